import "server-only";

/**
 * The budgets' port: WindowRateLimiter (in-process, lib/rate-limit.ts) and
 * PostgresRateLimiter (shared by every instance on AUTH_DATABASE_URL) both satisfy it.
 * `take` spends one unit of `key`'s budget of `limit` per window: 0 when allowed, else the seconds
 * to wait. Callers `await` it, so a synchronous limiter fits unchanged.
 */
export interface RateLimiter {
  take(key: string, now: number, limit?: number): number | Promise<number>;
}
