import "server-only";
import type { Pool } from "pg";
import { PostgresStore } from "./pg-pool";
import type { FailureCount, SignInFailureStore, SignInFailureWindows } from "./sign-in-failures";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS sign_in_known (
    key TEXT PRIMARY KEY,
    at BIGINT NOT NULL
  );
`;

/**
 * The sign-in failure counters in Postgres (AUTH_DATABASE_URL), shared by every instance: tables
 * `sign_in_failures` (one row per hashed key: failures and the time of the last) and
 * `sign_in_known` (hashed address + account keys that signed in successfully). A failure is one
 * `INSERT … ON CONFLICT DO UPDATE` over all its keys, which restarts a forgotten key at 1 or adds
 * 1, atomically per row under concurrency
 * (https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT); the keys are taken in
 * sorted order, so two failures sharing keys lock them in the same order and cannot deadlock. A
 * success deletes the counter and records the key as known in one statement (a data-modifying
 * WITH, https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING). Times
 * are the callers' clocks (ms); instances are expected to keep NTP time, and `last_at` never moves
 * back. Expired rows are pruned now and then.
 */
export class PostgresSignInFailures extends PostgresStore implements SignInFailureStore {
  constructor(
    pool: Pool,
    private readonly windows: SignInFailureWindows,
  ) {
    super(pool, "sign-in failure store", "credential-manager.sign-in-failures.schema", SCHEMA);
  }

  async read(keys: readonly string[], known: string, now: number): Promise<{ counts: Map<string, FailureCount>; known: boolean }> {
    const { rows } = await this.query<{ key: string; failures: number; at: string; known: boolean }>(
      `SELECT key, failures, last_at AS at, FALSE AS known FROM sign_in_failures WHERE key = ANY($1::text[]) AND last_at > $2::bigint - $3::bigint
       UNION ALL
       SELECT key, 0, at, TRUE FROM sign_in_known WHERE key = $4 AND at > $2::bigint - $5::bigint`,
      [[...keys], now, this.windows.forgetMs, known, this.windows.knownMs],
    );
    const counts = new Map<string, FailureCount>();
    let isKnown = false;
    for (const r of rows) {
      if (r.known) isKnown = true;
      else counts.set(r.key, { failures: Number(r.failures), last: Number(r.at) });
    }
    return { counts, known: isKnown };
  }

  async fail(keys: readonly string[], now: number): Promise<void> {
    await this.query(
      `INSERT INTO sign_in_failures AS f (key, failures, last_at)
       SELECT k, 1, $2::bigint FROM unnest($1::text[]) AS k ORDER BY k
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN f.last_at <= $2::bigint - $3::bigint THEN 1 ELSE f.failures + 1 END,
         last_at = GREATEST(f.last_at, $2::bigint)`,
      [[...new Set(keys)].sort(), now, this.windows.forgetMs],
    );
    if (Math.random() < 0.001) this.prune(now).catch(() => {});
  }

  async succeed(key: string, now: number): Promise<void> {
    await this.query(
      `WITH cleared AS (DELETE FROM sign_in_failures WHERE key = $1)
       INSERT INTO sign_in_known AS k (key, at) VALUES ($1, $2::bigint)
       ON CONFLICT (key) DO UPDATE SET at = GREATEST(k.at, EXCLUDED.at)`,
      [key, now],
    );
  }

  /** Drops counters and known keys that no longer count (called now and then; rows are tiny). */
  async prune(now: number): Promise<void> {
    await this.query("DELETE FROM sign_in_failures WHERE last_at <= $1::bigint - $2::bigint", [now, this.windows.forgetMs]);
    await this.query("DELETE FROM sign_in_known WHERE at <= $1::bigint - $2::bigint", [now, this.windows.knownMs]);
  }
}
