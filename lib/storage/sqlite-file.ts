import "server-only";

import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/**
 * Open (creating if needed) a SQLite database that only this user can read: the parent directory
 * is made with mode 0700, the file is created 0600 before SQLite opens it (so it never exists with
 * a wider mode), and the file and its WAL/SHM side files are tightened to 0600. WAL mode, a busy
 * timeout and foreign keys on. Every embedded store opens its file here (credentials.sqlite,
 * auth.sqlite). https://www.sqlite.org/wal.html
 */
export function openPrivateSqlite(file: string, opts: { busyTimeoutMs?: number; synchronous?: "NORMAL" | "FULL" } = {}): Database.Database {
  const busyTimeoutMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000));
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.closeSync(fs.openSync(file, "wx", 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    if (opts.synchronous) db.pragma(`synchronous = ${opts.synchronous}`);
    restrictModes(file);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** The database file and its WAL/SHM side files, private to this user (SQLite gives the side files the database's mode). */
export function restrictModes(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Side files may not exist yet; a file owned by another user is left as it is.
      if (code !== "ENOENT" && code !== "EPERM") throw err;
    }
  }
}

/**
 * What every embedded store on one SQLite file shares (the auth, audit and webhook stores on
 * DATA_DIR/auth.sqlite): the private connection, statements prepared once, ping and close.
 */
export abstract class SqliteFileStore {
  protected readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  protected constructor(file: string) {
    this.db = openPrivateSqlite(file);
  }

  /** The statement for `sql`, prepared on first use and reused (the request path prepares nothing twice). */
  protected stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
