import "server-only";
import type { Pool } from "pg";
import { PostgresStore } from "./pg-pool";
import type { FailureCount, SignInFailureStore, SignInFailureWindows, SignInWaitRule } from "./sign-in-failures";

// The in-flight columns came after the table; ADD COLUMN IF NOT EXISTS brings an older table up to date
// (https://www.postgresql.org/docs/current/sql-altertable.html).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sign_in_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at BIGINT NOT NULL
  );
  ALTER TABLE sign_in_failures ADD COLUMN IF NOT EXISTS pending INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sign_in_failures ADD COLUMN IF NOT EXISTS pending_at BIGINT NOT NULL DEFAULT 0;
  CREATE TABLE IF NOT EXISTS sign_in_known (
    key TEXT PRIMARY KEY,
    at BIGINT NOT NULL
  );
`;

/** Thrown inside reserve's transaction to roll it back when the rule refuses the attempt. */
class Refused {
  constructor(readonly wait: number) {}
}

/**
 * The sign-in failure counters in Postgres (AUTH_DATABASE_URL), shared by every instance: tables
 * `sign_in_failures` (one row per hashed key: failures and the time of the last, attempts in
 * flight and the time of the latest reservation) and `sign_in_known` (hashed address + account
 * keys that signed in successfully).
 *
 * A reservation is one transaction: `INSERT … ON CONFLICT DO UPDATE … RETURNING` over its keys
 * creates the missing rows and locks all of them until COMMIT (in READ COMMITTED the conflict arm
 * works on the latest committed row version, so a waiter reads what the holder wrote:
 * https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT and
 * https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED); the policy's
 * rule decides on those rows, then the attempt is counted in flight and committed, or the
 * transaction is rolled back and nothing changed. Concurrent reservations on a key so run one after
 * the other, whichever instance makes them. A failure is one `INSERT … ON CONFLICT DO UPDATE`
 * (restarts a forgotten key at 1 or adds 1, and takes one in-flight attempt off), atomic per row.
 * The keys are always taken in sorted order, so two statements sharing keys lock them in the same
 * order and cannot deadlock. A success deletes the counter and records the key as known in one
 * statement (a data-modifying WITH,
 * https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING). Times are the
 * callers' clocks (ms); instances are expected to keep NTP time, and `last_at` never moves back.
 * Expired rows are pruned now and then.
 */
export class PostgresSignInFailures extends PostgresStore implements SignInFailureStore {
  constructor(
    pool: Pool,
    private readonly windows: SignInFailureWindows,
  ) {
    super(pool, "sign-in failure store", "credential-manager.sign-in-failures.schema", SCHEMA);
  }

  async reserve(keys: readonly string[], known: string, now: number, rule: SignInWaitRule): Promise<number> {
    const sorted = [...new Set(keys)].sort();
    try {
      return await this.transaction(async (client) => {
        const locked = await client.query<{ key: string; failures: number; last_at: string; pending: number; pending_at: string }>(
          `INSERT INTO sign_in_failures AS f (key, failures, last_at, pending, pending_at)
           SELECT k, 0, 0, 0, 0 FROM unnest($1::text[]) AS k ORDER BY k
           ON CONFLICT (key) DO UPDATE SET key = f.key
           RETURNING key, failures, last_at, pending, pending_at`,
          [sorted],
        );
        const knownRows = await client.query("SELECT 1 FROM sign_in_known WHERE key = $1 AND at > $2::bigint - $3::bigint", [known, now, this.windows.knownMs]);
        const counts = new Map<string, FailureCount>();
        for (const r of locked.rows) {
          const failing = Number(r.last_at) > now - this.windows.forgetMs && r.failures > 0;
          const pending = Number(r.pending_at) > now - this.windows.pendingMs ? Number(r.pending) : 0;
          if (failing || pending > 0) counts.set(r.key, { failures: failing ? Number(r.failures) : 0, last: failing ? Number(r.last_at) : 0, pending });
        }
        const wait = rule(counts, (knownRows.rowCount ?? 0) > 0);
        if (wait > 0) throw new Refused(wait);
        await client.query(
          `UPDATE sign_in_failures SET
             pending = CASE WHEN pending_at <= $2::bigint - $3::bigint THEN 1 ELSE pending + 1 END,
             pending_at = GREATEST(pending_at, $2::bigint)
           WHERE key = ANY($1::text[])`,
          [sorted, now, this.windows.pendingMs],
        );
        return 0;
      });
    } catch (e) {
      if (e instanceof Refused) return e.wait;
      throw e;
    }
  }

  async fail(keys: readonly string[], now: number): Promise<void> {
    await this.query(
      `INSERT INTO sign_in_failures AS f (key, failures, last_at, pending, pending_at)
       SELECT k, 1, $2::bigint, 0, 0 FROM unnest($1::text[]) AS k ORDER BY k
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN f.last_at <= $2::bigint - $3::bigint THEN 1 ELSE f.failures + 1 END,
         last_at = GREATEST(f.last_at, $2::bigint),
         pending = GREATEST(f.pending - 1, 0)`,
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

  async release(keys: readonly string[]): Promise<void> {
    // The same upsert shape as fail(), so the rows are locked in the same sorted order; the rows
    // exist (reserve made them) unless pruned, and one made here holds nothing and is pruned.
    await this.query(
      `INSERT INTO sign_in_failures AS f (key, failures, last_at, pending, pending_at)
       SELECT k, 0, 0, 0, 0 FROM unnest($1::text[]) AS k ORDER BY k
       ON CONFLICT (key) DO UPDATE SET pending = GREATEST(f.pending - 1, 0)`,
      [[...new Set(keys)].sort()],
    );
  }

  /** Drops counters and known keys that no longer count (called now and then; rows are tiny). */
  async prune(now: number): Promise<void> {
    await this.query("DELETE FROM sign_in_failures WHERE last_at <= $1::bigint - $2::bigint AND pending_at <= $1::bigint - $3::bigint", [now, this.windows.forgetMs, this.windows.pendingMs]);
    await this.query("DELETE FROM sign_in_known WHERE at <= $1::bigint - $2::bigint", [now, this.windows.knownMs]);
  }
}
