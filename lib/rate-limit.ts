import "server-only";

/**
 * The budgets' port: WindowRateLimiter (in-process, below) and PostgresRateLimiter (shared by
 * every instance on AUTH_DATABASE_URL, lib/integrations/rate-limit-postgres.ts) both satisfy it.
 * `take` spends one unit of `key`'s budget of `limit` per window: 0 when allowed, else the seconds
 * to wait. Callers `await` it, so a synchronous limiter fits unchanged.
 */
export interface RateLimiter {
  take(key: string, now: number, limit?: number): number | Promise<number>;
}

/**
 * Fixed-window limiter per key, in this process (the embedded default, one instance); with
 * AUTH_DATABASE_URL the budgets are counted in Postgres instead (lib/integrations/cluster.ts).
 */
export class WindowRateLimiter implements RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Takes one unit; returns 0 when allowed, else the seconds to wait. */
  take(key: string, now: number, limit: number = this.limit): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      if (this.windows.size > 10_000) this.prune(now);
      return 0;
    }
    if (w.count < limit) {
      w.count++;
      return 0;
    }
    return Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  private prune(now: number) {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
