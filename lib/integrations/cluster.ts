import "server-only";
import type { Logger } from "pino";
import type { Env } from "../env";
import { sharedAuthPool } from "../auth/pg-pool";
import { PostgresCacheInvalidation } from "./cache-invalidation-postgres";
import { WindowRateLimiter, type RateLimiter } from "../rate-limit";
import { PostgresRateLimiter } from "./rate-limit-postgres";
import type { CredentialCache } from "./runtime";

/**
 * What several instances share when AUTH_DATABASE_URL names a Postgres database: the budgets
 * (counted in Postgres, so N instances do not multiply them by N; the sign-in failure counters
 * likewise, lib/auth/attempt-limits.ts) and the decrypt cache's
 * invalidations (LISTEN/NOTIFY). On the embedded default (one instance) both stay in process.
 */
export function sharedLimiter(
  env: Env,
  scope: "org" | "provider" | "access" | "audit-export" | "sign-up" | "mail-address" | "mail-recipient",
  limit: number,
  windowMs = 60_000,
): RateLimiter {
  return env.AUTH_DATABASE_URL
    ? new PostgresRateLimiter(sharedAuthPool(env.AUTH_DATABASE_URL), scope, limit, windowMs)
    : new WindowRateLimiter(limit, windowMs);
}

/** Publishes this process's cache invalidations to the other instances; `listen()` it in servers. Null without Postgres. */
export function cacheSyncFor(env: Env, cache: CredentialCache, log: Logger): PostgresCacheInvalidation | null {
  if (!env.AUTH_DATABASE_URL) return null;
  const sync = new PostgresCacheInvalidation({ url: env.AUTH_DATABASE_URL, pool: sharedAuthPool(env.AUTH_DATABASE_URL), cache, log });
  sync.publishFrom(cache);
  return sync;
}
