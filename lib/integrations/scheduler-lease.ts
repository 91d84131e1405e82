import "server-only";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Pool } from "pg";
import { schemaOnFirstUse } from "../auth/pg-pool";

/**
 * Who runs a scheduled round: one row per job in the auth database (table `scheduler_leases`),
 * holding the newest round claimed, by whom, and until when it is busy. Claiming round N is one
 * atomic upsert that succeeds only while the stored round is older than N and the previous round
 * is no longer busy (finished, or its holder stopped renewing), so among any number of instances
 * on the same database exactly one runs each round, and rounds never overlap (README, "Scheduled
 * re-validation").
 */
export interface RoundLease {
  /** True when this holder won round `round` of `job` (and must run it, busy until `busyUntil`); false otherwise. */
  claim(job: string, round: number, holder: string, now: Date, busyUntil: Date): Promise<boolean>;
  /** Extends the holder's busy time (a long round), or ends it (`until` = now) when the round is done. */
  renew(job: string, holder: string, until: Date): Promise<void>;
  close(): Promise<void>;
}

/** The lease in DATA_DIR/auth.sqlite (the embedded default); every process on that file shares it. */
export class SqliteRoundLease implements RoundLease {
  private db: Database.Database;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS scheduler_leases (
        job TEXT PRIMARY KEY,
        round INTEGER NOT NULL,
        holder TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        busy_until INTEGER NOT NULL
      );
    `);
    // Files from before rounds could be busy: the column, empty (not busy).
    const cols = this.db.prepare("PRAGMA table_info(scheduler_leases)").all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === "busy_until")) this.db.exec("ALTER TABLE scheduler_leases ADD COLUMN busy_until INTEGER NOT NULL DEFAULT 0");
  }

  async claim(job: string, round: number, holder: string, now: Date, busyUntil: Date): Promise<boolean> {
    // Upsert-with-WHERE is one statement under SQLite's write lock: https://www.sqlite.org/lang_upsert.html
    const res = this.db
      .prepare(
        `INSERT INTO scheduler_leases (job, round, holder, claimed_at, busy_until) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (job) DO UPDATE SET round = excluded.round, holder = excluded.holder, claimed_at = excluded.claimed_at, busy_until = excluded.busy_until
         WHERE scheduler_leases.round < excluded.round AND scheduler_leases.busy_until <= ?`,
      )
      .run(job, round, holder, now.toISOString(), busyUntil.getTime(), now.getTime());
    return res.changes === 1;
  }

  async renew(job: string, holder: string, until: Date): Promise<void> {
    this.db.prepare("UPDATE scheduler_leases SET busy_until = ? WHERE job = ? AND holder = ?").run(until.getTime(), job, holder);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

const POSTGRES_SCHEMA = `
  CREATE TABLE IF NOT EXISTS scheduler_leases (
    job TEXT PRIMARY KEY,
    round BIGINT NOT NULL,
    holder TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    busy_until BIGINT NOT NULL
  );
  ALTER TABLE scheduler_leases ADD COLUMN IF NOT EXISTS busy_until BIGINT NOT NULL DEFAULT 0
`;

/**
 * The lease in Postgres (AUTH_DATABASE_URL): instances behind a load balancer share it. The table is
 * created on first use, serialized across instances by an advisory lock (lib/auth/pg-pool.ts).
 */
export class PostgresRoundLease implements RoundLease {
  private readonly migrated: () => Promise<void>;

  constructor(private readonly pool: Pool) {
    this.migrated = schemaOnFirstUse(pool, "credential-manager.scheduler-lease.schema", POSTGRES_SCHEMA);
  }

  async claim(job: string, round: number, holder: string, now: Date, busyUntil: Date): Promise<boolean> {
    await this.migrated();
    // INSERT … ON CONFLICT DO UPDATE … WHERE is atomic per row, even under concurrency:
    // https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT
    const res = await this.pool.query(
      `INSERT INTO scheduler_leases (job, round, holder, claimed_at, busy_until) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job) DO UPDATE SET round = EXCLUDED.round, holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at, busy_until = EXCLUDED.busy_until
       WHERE scheduler_leases.round < EXCLUDED.round AND scheduler_leases.busy_until <= $6`,
      [job, round, holder, now, busyUntil.getTime(), now.getTime()],
    );
    return res.rowCount === 1;
  }

  async renew(job: string, holder: string, until: Date): Promise<void> {
    await this.pool.query("UPDATE scheduler_leases SET busy_until = $1 WHERE job = $2 AND holder = $3", [until.getTime(), job, holder]);
  }

  async close(): Promise<void> {
    /* the pool belongs to the process (lib/auth/pg-pool.ts) */
  }
}
