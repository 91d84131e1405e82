import "server-only";
import type { Pool } from "pg";
import { schemaOnFirstUse } from "../auth/pg-pool";
import type { RateLimiter } from "../rate-limit";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rate_limit_windows (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  )
`;

/**
 * A fixed-window budget counted in Postgres (AUTH_DATABASE_URL), so every instance behind a load
 * balancer spends the same budget: table `rate_limit_windows`, one row per (scope, key). A take is
 * one atomic upsert that either restarts an elapsed window at 1 or adds 1, and returns the count;
 * the call is allowed when the count is within the limit (https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT:
 * ON CONFLICT DO UPDATE guarantees an atomic insert-or-update outcome under concurrency).
 * Refused calls count too, which cannot lengthen the window. Times are the callers' clocks (ms);
 * instances are expected to keep NTP time.
 */
export class PostgresRateLimiter implements RateLimiter {
  private readonly migrated: () => Promise<void>;

  constructor(
    private readonly pool: Pool,
    /** Separates budgets that share keys (org setup/validate, provider pacing, pipeline access). */
    private readonly scope: string,
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {
    this.migrated = schemaOnFirstUse(pool, "credential-manager.rate-limit.schema", SCHEMA);
  }

  async take(key: string, now: number, limit: number = this.limit): Promise<number> {
    await this.migrated();
    const { rows } = await this.pool.query<{ window_start: string; count: number }>(
      `INSERT INTO rate_limit_windows AS w (scope, key, window_start, count) VALUES ($1, $2, $3, 1)
       ON CONFLICT (scope, key) DO UPDATE SET
         window_start = CASE WHEN w.window_start + $4 <= $3 THEN $3 ELSE w.window_start END,
         count = CASE WHEN w.window_start + $4 <= $3 THEN 1 ELSE w.count + 1 END
       RETURNING window_start, count`,
      [this.scope, key.replace(/\u0000/g, "\u001f") /* Postgres text cannot hold NUL */, now, this.windowMs],
    );
    if (Math.random() < 0.001) this.prune(now).catch(() => {});
    const row = rows[0]!;
    if (row.count <= limit) return 0;
    // Another instance may have opened the window with a clock a little ahead of ours (or a
    // concurrent take with a later `now` got there first): the wait never exceeds one window.
    const start = Math.min(Number(row.window_start), now);
    return Math.max(1, Math.ceil((start + this.windowMs - now) / 1000));
  }

  /** Drops windows that ended long ago (called now and then; rows are tiny). */
  async prune(now: number): Promise<void> {
    await this.pool.query("DELETE FROM rate_limit_windows WHERE window_start < $1", [now - 10 * this.windowMs]);
  }
}
