import "server-only";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Pool } from "pg";

/**
 * Who runs a scheduled round: one row per job in the auth database (table `scheduler_leases`),
 * holding the newest round claimed, by whom and when. Claiming round N is one atomic upsert that
 * succeeds only while the stored round is older than N, so among any number of instances on the
 * same database exactly one runs each round (docs/operations.md, "Scheduled re-validation").
 */
export interface RoundLease {
  /** True when this holder won round `round` of `job` (and must run it); false when another did. */
  claim(job: string, round: number, holder: string, now: Date): Promise<boolean>;
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
        claimed_at TEXT NOT NULL
      );
    `);
  }

  async claim(job: string, round: number, holder: string, now: Date): Promise<boolean> {
    // Upsert-with-WHERE is one statement under SQLite's write lock: https://www.sqlite.org/lang_upsert.html
    const res = this.db
      .prepare(
        `INSERT INTO scheduler_leases (job, round, holder, claimed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (job) DO UPDATE SET round = excluded.round, holder = excluded.holder, claimed_at = excluded.claimed_at
         WHERE scheduler_leases.round < excluded.round`,
      )
      .run(job, round, holder, now.toISOString());
    return res.changes === 1;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** The lease in Postgres (AUTH_DATABASE_URL): instances behind a load balancer share it. */
export class PostgresRoundLease implements RoundLease {
  private ready: Promise<void> | null = null;

  constructor(private readonly pool: Pool) {}

  async claim(job: string, round: number, holder: string, now: Date): Promise<boolean> {
    this.ready ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS scheduler_leases (
           job TEXT PRIMARY KEY,
           round BIGINT NOT NULL,
           holder TEXT NOT NULL,
           claimed_at TIMESTAMPTZ NOT NULL
         )`,
      )
      .then(
        () => undefined,
        (e: unknown) => {
          this.ready = null;
          // Two instances creating the table at once: the loser's unique violation means it exists.
          if (!["23505", "42P07"].includes((e as { code?: string }).code ?? "")) throw e;
        },
      );
    await this.ready;
    // INSERT … ON CONFLICT DO UPDATE … WHERE is atomic per row, even under concurrency:
    // https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT
    const res = await this.pool.query(
      `INSERT INTO scheduler_leases (job, round, holder, claimed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (job) DO UPDATE SET round = EXCLUDED.round, holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at
       WHERE scheduler_leases.round < EXCLUDED.round`,
      [job, round, holder, now],
    );
    return res.rowCount === 1;
  }

  async close(): Promise<void> {
    /* the pool belongs to the process (lib/auth/pg-pool.ts) */
  }
}
