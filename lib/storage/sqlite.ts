import "server-only";

import path from "node:path";
import type Database from "better-sqlite3";

import { StoreConflictError, StoreUnavailableError, type CredentialPatch, type CredentialRow, type CredentialStore, type CredentialSummary, type UpdateGuard } from "./store";
import { openPrivateSqlite } from "./sqlite-file";
import {
  CREDENTIAL_COLUMNS,
  RowDecoder,
  SUMMARY_COLUMNS,
  checkExpectedVersion,
  checkPut,
  patchColumns,
  rowValues,
} from "./row-codec";

/**
 * Embedded credential store (the local default). One SQLite file in WAL mode, shared by the
 * server and the CLI; every change is atomic (one statement, or one IMMEDIATE transaction) and
 * guarded by an expected version.
 *
 * The store only ever sees ciphertext and non-secret columns. Errors it raises carry fixed
 * messages; better-sqlite3 never echoes bound values, so a `cause` never holds row data.
 */

export interface SqliteCredentialStoreOptions {
  /** Path of the database file; its parent directory is created with mode 0700 if missing. */
  file: string;
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

const TABLE = "org_integration_credentials";

/** Ordered schema migrations; `schema_migrations` records the highest applied version. */
const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE IF NOT EXISTS ${TABLE} (
        org               TEXT    NOT NULL,
        provider          TEXT    NOT NULL,
        credential_id     TEXT    NOT NULL,
        ciphertext        BLOB    NOT NULL,
        key_ref           TEXT    NOT NULL,
        key_version       TEXT    NOT NULL,
        fingerprint       TEXT    NOT NULL,
        status            TEXT    NOT NULL CHECK (status IN ('active', 'invalid', 'expired', 'pending')),
        key_kind          TEXT    NULL,
        metadata          TEXT    NOT NULL CHECK (json_valid(metadata)),
        account           TEXT    NULL CHECK (account IS NULL OR json_valid(account)),
        version           INTEGER NOT NULL CHECK (version >= 1),
        created_at        TEXT    NOT NULL,
        updated_at        TEXT    NOT NULL,
        last_validated_at TEXT    NULL,
        last_error        TEXT    NULL CHECK (last_error IS NULL OR json_valid(last_error)),
        PRIMARY KEY (org, provider)
      ) STRICT;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const COLUMNS = CREDENTIAL_COLUMNS.join(", ");

/**
 * A listing's columns, read as arrays (`.raw()`: no object per row from the driver), each turned
 * into its CredentialSummary field; the JSON columns are parsed, the rest taken as stored.
 */
const SUMMARY_FIELDS = SUMMARY_COLUMNS.map((c) => ({
  key: c.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()),
  json: c === "metadata" || c === "account" || c === "last_error",
}));

function summaryOf(values: unknown[]): CredentialSummary {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < SUMMARY_FIELDS.length; i++) {
    const f = SUMMARY_FIELDS[i]!;
    const v = values[i];
    out[f.key] = f.json && typeof v === "string" ? JSON.parse(v) : v;
  }
  return out as unknown as CredentialSummary;
}

type DbRow = Record<string, unknown>;
type BindValue = string | number | Buffer | null;

const OPEN_FAILED = "The SQLite credential store could not be opened.";
const UNAVAILABLE = "The SQLite credential store is unavailable.";
const MALFORMED_ROW = "The SQLite credential store returned a malformed row.";
const decode = new RowDecoder(MALFORMED_ROW);

/** SQLite result codes (including extended ones, e.g. SQLITE_IOERR_WRITE) that mean the store is unusable. */
const UNAVAILABLE_CODE = /^SQLITE_(CANTOPEN|IOERR|CORRUPT|FULL|READONLY|BUSY|LOCKED|NOTADB|NOMEM|PERM|PROTOCOL)(_|$)/;

function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODE.test(code)) return true;
  // better-sqlite3 throws a TypeError for any call on a closed connection.
  return err instanceof TypeError && /database connection is not open/i.test(err.message);
}

function toStoreError(err: unknown): unknown {
  if (err instanceof StoreConflictError || err instanceof StoreUnavailableError) return err;
  if (isUnavailableError(err)) return new StoreUnavailableError(UNAVAILABLE, { cause: err });
  return err;
}

/** Bind values for a whole row, in CREDENTIAL_COLUMNS order. */
function toDb(v: ReturnType<typeof rowValues>): BindValue[] {
  return CREDENTIAL_COLUMNS.map((c) => v[c]);
}

/** The primary key (org, provider) taken: a put of a new row lost to another one. */
function isPrimaryKeyConflict(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

export class SqliteCredentialStore implements CredentialStore {
  readonly backend = "sqlite" as const;
  readonly file: string;

  private readonly db: Database.Database;
  private readonly stmt: {
    get: Database.Statement<[string, string], DbRow>;
    getVersion: Database.Statement<[string, string], { version: number; credential_id: string }>;
    listByOrg: Database.Statement<[string], DbRow>;
    listSummaries: Database.Statement<[string], unknown[]>;
    pageFirst: Database.Statement<[number], DbRow>;
    pageAfter: Database.Statement<[string, string, number], DbRow>;
    insert: Database.Statement<BindValue[]>;
    replace: Database.Statement<BindValue[]>;
    delete: Database.Statement<[string, string]>;
    deleteVersion: Database.Statement<[string, string, number]>;
    ping: Database.Statement<[], { ok: number }>;
  };
  private readonly patchStatements = new Map<string, Database.Statement<BindValue[]>>();
  private readonly updateTx: (
    org: string,
    provider: string,
    expectedVersion: number,
    patch: CredentialPatch,
    credentialId: string | undefined,
  ) => CredentialRow;
  private readonly deleteTx: (org: string, provider: string, expectedVersion: number) => boolean;

  constructor(opts: SqliteCredentialStoreOptions) {
    this.file = path.resolve(opts.file);
    let db: Database.Database | undefined;
    try {
      db = openPrivateSqlite(this.file, { busyTimeoutMs: opts.busyTimeoutMs, synchronous: "NORMAL" });
      this.migrate(db);
      this.db = db;
      this.stmt = {
        get: db.prepare(`SELECT ${COLUMNS} FROM ${TABLE} WHERE org = ? AND provider = ?`),
        getVersion: db.prepare(`SELECT version, credential_id FROM ${TABLE} WHERE org = ? AND provider = ?`),
        listByOrg: db.prepare(`SELECT ${COLUMNS} FROM ${TABLE} WHERE org = ? ORDER BY provider`),
        // json_group_array keeps the order of its input rows (the ordered subquery).
        listSummaries: db.prepare<[string], unknown[]>(`SELECT ${SUMMARY_COLUMNS.join(", ")} FROM ${TABLE} WHERE org = ? ORDER BY provider`).raw(true),
        pageFirst: db.prepare(`SELECT ${COLUMNS} FROM ${TABLE} ORDER BY org, provider LIMIT ?`),
        pageAfter: db.prepare(
          `SELECT ${COLUMNS} FROM ${TABLE} WHERE (org, provider) > (?, ?) ORDER BY org, provider LIMIT ?`,
        ),
        insert: db.prepare(`INSERT INTO ${TABLE} (${COLUMNS}) VALUES (${COLUMNS.split(",").map(() => "?").join(", ")})`),
        replace: db.prepare(
          `UPDATE ${TABLE} SET credential_id = ?, ciphertext = ?, key_ref = ?, key_version = ?, fingerprint = ?, ` +
            `status = ?, key_kind = ?, metadata = ?, account = ?, version = ?, created_at = ?, updated_at = ?, ` +
            `last_validated_at = ?, last_error = ? WHERE org = ? AND provider = ? AND version = ?`,
        ),
        delete: db.prepare(`DELETE FROM ${TABLE} WHERE org = ? AND provider = ?`),
        deleteVersion: db.prepare(`DELETE FROM ${TABLE} WHERE org = ? AND provider = ? AND version = ?`),
        ping: db.prepare("SELECT 1 AS ok"),
      };
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing
      }
      throw new StoreUnavailableError(OPEN_FAILED, { cause: err });
    }

    this.updateTx = this.db.transaction(
      (org: string, provider: string, expectedVersion: number, patch: CredentialPatch, credentialId: string | undefined): CredentialRow => {
        if (credentialId !== undefined) {
          const current = this.stmt.getVersion.get(org, provider);
          if (!current || current.credential_id !== credentialId) throw new StoreConflictError();
        }
        const set = patchColumns(patch);
        const columns = set.map((c) => c.column);
        const values = set.map((c) => c.bound);
        if (columns.length === 0) {
          const current = this.stmt.getVersion.get(org, provider);
          if (!current || current.version !== expectedVersion) throw new StoreConflictError();
        } else {
          const info = this.patchStatement(columns).run(...values, org, provider, expectedVersion);
          if (info.changes !== 1) throw new StoreConflictError();
        }
        return this.readBack(org, provider);
      },
    ).immediate;

    this.deleteTx = this.db.transaction((org: string, provider: string, expectedVersion: number): boolean => {
      if (this.stmt.deleteVersion.run(org, provider, expectedVersion).changes > 0) return true;
      if (this.stmt.getVersion.get(org, provider)) throw new StoreConflictError();
      return false;
    }).immediate;
  }

  async get(org: string, provider: string): Promise<CredentialRow | null> {
    return this.run(() => {
      const r = this.stmt.get.get(org, provider);
      return r ? decode.row(r) : null;
    });
  }

  async listByOrg(org: string): Promise<CredentialRow[]> {
    return this.run(() => this.stmt.listByOrg.all(org).map((r) => decode.row(r)));
  }

  async listSummaries(org: string): Promise<CredentialSummary[]> {
    // Written through rowValues (checked, timestamps normalised; JSON columns json_valid by the
    // table's CHECKs): read as stored. Its callers parse their output schema once.
    return this.run(() => this.stmt.listSummaries.all(org).map(summaryOf));
  }

  /**
   * One statement, atomic on its own (no explicit transaction, nothing read first): a new row is an
   * INSERT that the primary key refuses when (org, provider) is taken, a replacement an UPDATE
   * guarded by the expected version; either way the loser is a conflict. The answer is the row as
   * stored, decoded from the values just bound (SQLite returns exactly those: STRICT table), so no
   * read-back either.
   */
  async put(row: CredentialRow, expectedVersion: number | null): Promise<CredentialRow> {
    return this.run(() => {
      checkPut(row, expectedVersion);
      const values = rowValues(row);
      const bound = toDb(values);
      if (expectedVersion === null) {
        try {
          this.stmt.insert.run(...bound);
        } catch (err) {
          if (isPrimaryKeyConflict(err)) throw new StoreConflictError();
          throw err;
        }
      } else {
        const [org, provider, ...rest] = bound;
        if (this.stmt.replace.run(...rest, org!, provider!, expectedVersion).changes !== 1) throw new StoreConflictError();
      }
      return decode.row(values);
    });
  }

  async update(org: string, provider: string, expectedVersion: number, patch: CredentialPatch, guard?: UpdateGuard): Promise<CredentialRow> {
    return this.run(() => {
      checkExpectedVersion(expectedVersion);
      return this.updateTx(org, provider, expectedVersion, patch, guard?.credentialId);
    });
  }

  async delete(org: string, provider: string, expectedVersion?: number): Promise<boolean> {
    return this.run(() => {
      if (expectedVersion === undefined) return this.stmt.delete.run(org, provider).changes > 0;
      checkExpectedVersion(expectedVersion);
      return this.deleteTx(org, provider, expectedVersion);
    });
  }

  async listPage(opts: { after?: { org: string; provider: string }; limit: number }): Promise<CredentialRow[]> {
    return this.run(() => {
      const { after, limit } = opts;
      if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError("limit must be a non-negative integer.");
      if (limit === 0) return [];
      const rows = after
        ? this.stmt.pageAfter.all(after.org, after.provider, limit)
        : this.stmt.pageFirst.all(limit);
      return rows.map((r) => decode.row(r));
    });
  }

  async ping(): Promise<void> {
    this.run(() => {
      if (this.stmt.ping.get()?.ok !== 1) throw new StoreUnavailableError(UNAVAILABLE);
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Runs a synchronous body, mapping "store unusable" SQLite errors to StoreUnavailableError. */
  private run<T>(body: () => T): T {
    try {
      return body();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  private readBack(org: string, provider: string): CredentialRow {
    const r = this.stmt.get.get(org, provider);
    if (!r) throw new StoreConflictError();
    return decode.row(r);
  }

  private patchStatement(columns: string[]): Database.Statement<BindValue[]> {
    const key = columns.join(",");
    let stmt = this.patchStatements.get(key);
    if (!stmt) {
      const set = columns.map((c) => `${c} = ?`).join(", ");
      stmt = this.db.prepare(`UPDATE ${TABLE} SET ${set} WHERE org = ? AND provider = ? AND version = ?`);
      this.patchStatements.set(key, stmt);
    }
    return stmt;
  }

  private migrate(db: Database.Database): void {
    db.transaction(() => {
      db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT",
      );
      const current =
        (db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
      if (current > SQLITE_SCHEMA_VERSION) {
        throw new Error("The credential database was written by a newer version of this application.");
      }
      const record = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        record.run(m.version, new Date().toISOString());
      }
    }).immediate();
  }
}
