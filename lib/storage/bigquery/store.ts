import "server-only";

import { BigQuery, BigQueryTimestamp, type BigQueryOptions, type Dataset, type RowMetadata, type Table } from "@google-cloud/bigquery";
import { PassThroughClient } from "google-auth-library";

import { StoreConflictError, StoreUnavailableError, type CredentialPatch, type CredentialRow, type CredentialStore, type CredentialSummary, type UpdateGuard } from "../store";
import {
  CREDENTIAL_COLUMNS,
  RowDecoder,
  type CredentialColumn,
  SUMMARY_COLUMNS,
  checkExpectedVersion,
  checkPut,
  isoTimestamp,
  patchColumns,
  rowValues,
} from "../row-codec";
import { classify, safeCause, sleep, withDeadline } from "./errors";
import { Params } from "./params";
import {
  BIGQUERY_CLUSTERING,
  BIGQUERY_MAX_TIME_TRAVEL_HOURS,
  BIGQUERY_SCHEMA,
  BIGQUERY_TABLE,
  DATASET_ID_RE,
  LOCATION_RE,
  PROJECT_ID_RE,
  checkSchema,
} from "./schema";

/**
 * BigQuery credential store (production). One row per (org, provider) in
 * `<project>.<dataset>.org_integration_credentials`, clustered by (org, provider).
 *
 * BigQuery is an analytical store, so it is used here like a small table of records:
 * - every write is ONE parameterized DML statement (MERGE for put, UPDATE for patches, DELETE),
 *   guarded by the expected version and checked through the job's `numDmlAffectedRows`;
 * - never `insertAll` / `table.insert()` (streaming): streamed rows cannot be changed by
 *   UPDATE/DELETE/MERGE for up to ~30-90 minutes ("… would affect rows in the streaming buffer");
 * - every value travels as a named query parameter with an explicit type; only identifiers
 *   (project, dataset, table; validated against strict patterns and backtick-quoted) are in SQL text;
 * - DML statements on one table are limited (2 running + 20 queued mutating statements, 25 per
 *   10 s): writes are serialized in this process, and "concurrent update" / DML quota / rate-limit
 *   errors are retried with bounded, jittered exponential backoff, as are 5xx and network errors.
 *
 * Errors raised carry fixed messages and a cause that holds only the HTTP status and BigQuery
 * reason, never row data or the server's message (which may quote values).
 *
 * Sources: DML and its limits https://cloud.google.com/bigquery/docs/data-manipulation-language
 * and https://cloud.google.com/bigquery/quotas#data_manipulation_language_statements; the
 * streaming buffer https://cloud.google.com/bigquery/docs/streaming-data-into-bigquery#dataavailability;
 * why DML, not streaming: docs/decisions/003-bigquery-dml-not-streaming.md.
 */

export interface BigQueryCredentialStoreOptions {
  projectId: string;
  dataset: string;
  /** Dataset location (e.g. "US", "EU", "europe-west1"); queries run there. */
  location: string;
  /**
   * Origin of a BigQuery REST endpoint used WITHOUT Google credentials (tests, emulators), e.g.
   * "http://127.0.0.1:9050". When set, requests carry no Authorization header (PassThroughClient).
   */
  apiEndpoint?: string;
  /** A ready client (tests, or a caller that configures auth itself). Overrides apiEndpoint. */
  client?: BigQuery;
  /** Attempts per BigQuery call, first included (default 5). */
  maxAttempts?: number;
  /** Base of the exponential backoff in ms (default 250); each wait is jittered and capped at 8 s. */
  retryBaseMs?: number;
  /** Deadline per BigQuery call (one statement, including its result polling) in ms; default 30000. */
  requestTimeoutMs?: number;
}

const UNAVAILABLE = "The BigQuery credential store is unavailable.";
const MALFORMED_ROW = "The BigQuery credential store returned a malformed row.";
const DUPLICATE_ROWS = "The BigQuery credential store holds more than one row for one org and provider.";
const NO_AFFECTED_ROWS = "BigQuery did not report how many rows a DML statement changed.";
const STREAMING_BUFFER =
  "BigQuery refused a DML statement because rows are in the streaming buffer (insertAll was used on the credentials table; it must never be).";
const LOCATION_MISMATCH = "The BigQuery credentials dataset exists in a different location than configured.";

const COLUMNS = CREDENTIAL_COLUMNS.join(", ");
const SUMMARY = SUMMARY_COLUMNS.join(", ");

/** BigQuery returns TIMESTAMP columns as BigQueryTimestamp objects (or text from some paths). */
const decode = new RowDecoder(MALFORMED_ROW, {
  timestamp(value) {
    if (value === null || value === undefined) return null;
    return isoTimestamp(value instanceof BigQueryTimestamp ? value.value : typeof value === "string" ? value : null);
  },
});

/** A deep copy of a row as the store will return it (timestamps normalised like a read). */
function copyRow(row: CredentialRow): CredentialRow {
  // structuredClone would turn the Buffer into a plain Uint8Array: copy it separately.
  const { ciphertext, ...rest } = row;
  const clone = structuredClone(rest);
  return {
    ...clone,
    ciphertext: Buffer.from(ciphertext),
    keyKind: clone.keyKind ?? null,
    account: clone.account ?? null,
    lastError: clone.lastError ?? null,
    createdAt: new Date(clone.createdAt).toISOString(),
    updatedAt: new Date(clone.updatedAt).toISOString(),
    lastValidatedAt: clone.lastValidatedAt ? new Date(clone.lastValidatedAt).toISOString() : null,
  };
}

interface RunResult {
  rows: Record<string, unknown>[];
  affected: number | null;
}

export class BigQueryCredentialStore implements CredentialStore {
  readonly backend = "bigquery" as const;
  readonly projectId: string;
  readonly datasetId: string;
  readonly location: string;

  private readonly client: BigQuery;
  private readonly dataset: Dataset;
  private readonly table: Table;
  /** `project.dataset.table`, validated, backtick-quoted. */
  private readonly tableSql: string;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly requestTimeoutMs: number;
  private ready: Promise<void> | null = null;
  /** Serializes this process's writes (BigQuery allows few concurrent mutating DML per table). */
  private writeChain: Promise<unknown> = Promise.resolve();

  constructor(opts: BigQueryCredentialStoreOptions) {
    if (typeof opts.projectId !== "string" || !PROJECT_ID_RE.test(opts.projectId)) {
      throw new Error("BigQuery projectId is missing or not a valid Google Cloud project ID.");
    }
    if (typeof opts.dataset !== "string" || !DATASET_ID_RE.test(opts.dataset)) {
      throw new Error("BigQuery dataset must contain only letters, digits and underscores.");
    }
    if (typeof opts.location !== "string" || !LOCATION_RE.test(opts.location)) {
      throw new Error("BigQuery location is missing or malformed.");
    }
    this.projectId = opts.projectId;
    this.datasetId = opts.dataset;
    this.location = opts.location;
    this.maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 5));
    this.retryBaseMs = Math.max(0, opts.retryBaseMs ?? 250);
    this.requestTimeoutMs = Math.max(1, opts.requestTimeoutMs ?? 30_000);
    this.tableSql = `\`${this.projectId}.${this.datasetId}.${BIGQUERY_TABLE}\``;

    if (opts.client) {
      this.client = opts.client;
    } else {
      const base: BigQueryOptions & { timeout: number } = {
        projectId: this.projectId,
        location: this.location,
        // Retries are ours (bounded, jittered, classified); the client's would multiply them.
        retryOptions: { autoRetry: false, maxRetries: 0 },
        timeout: this.requestTimeoutMs,
      };
      if (opts.apiEndpoint) {
        if (!/^https?:\/\/[^/\s]+\/?$/.test(opts.apiEndpoint)) {
          throw new Error("BigQuery apiEndpoint must be an http(s) origin such as http://127.0.0.1:9050.");
        }
        // A local endpoint never receives Google credentials: PassThroughClient adds no token.
        this.client = new BigQuery({
          ...base,
          apiEndpoint: opts.apiEndpoint.replace(/\/$/, ""),
          authClient: new PassThroughClient(),
        });
      } else {
        this.client = new BigQuery(base);
      }
    }
    this.dataset = this.client.dataset(this.datasetId, { location: this.location });
    this.table = this.dataset.table(BIGQUERY_TABLE, { location: this.location });
  }

  async get(org: string, provider: string): Promise<CredentialRow | null> {
    await this.ensureReady();
    const p = new Params();
    const sql = `SELECT ${COLUMNS} FROM ${this.tableSql} WHERE org = ${p.add("org", "STRING", org)} AND provider = ${p.add("provider", "STRING", provider)}`;
    const { rows } = await this.withRetry("get", () => this.run(sql, p));
    if (rows.length > 1) throw new StoreUnavailableError(DUPLICATE_ROWS);
    return rows.length === 0 ? null : decode.row(rows[0]!);
  }

  async listByOrg(org: string): Promise<CredentialRow[]> {
    const rows = await this.selectByOrg(COLUMNS, org, "listByOrg");
    return decode.uniqueKeys(rows.map((r) => decode.row(r)), DUPLICATE_ROWS);
  }

  async listSummaries(org: string): Promise<CredentialSummary[]> {
    // Only the columns a listing returns: never the ciphertext.
    const rows = await this.selectByOrg(SUMMARY, org, "listSummaries");
    return decode.uniqueKeys(rows.map((r) => decode.summary(r)), DUPLICATE_ROWS);
  }

  private async selectByOrg(columns: string, org: string, op: string): Promise<Record<string, unknown>[]> {
    await this.ensureReady();
    const p = new Params();
    const sql = `SELECT ${columns} FROM ${this.tableSql} WHERE org = ${p.add("org", "STRING", org)} ORDER BY provider`;
    return (await this.withRetry(op, () => this.run(sql, p))).rows;
  }

  async listPage(opts: { after?: { org: string; provider: string }; limit: number }): Promise<CredentialRow[]> {
    const { after, limit } = opts;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError("limit must be a non-negative integer.");
    if (limit === 0) return [];
    await this.ensureReady();
    const p = new Params();
    let where = "";
    if (after) {
      // GoogleSQL has no row-value comparison; (org, provider) > (a, b) spelled out.
      const ao = p.add("after_org", "STRING", after.org);
      const ap = p.add("after_provider", "STRING", after.provider);
      where = ` WHERE (org > ${ao} OR (org = ${ao} AND provider > ${ap}))`;
    }
    const sql = `SELECT ${COLUMNS} FROM ${this.tableSql}${where} ORDER BY org, provider LIMIT ${p.add("limit", "INT64", limit)}`;
    const { rows } = await this.withRetry("listPage", () => this.run(sql, p));
    return decode.uniqueKeys(rows.map((r) => decode.row(r)), DUPLICATE_ROWS);
  }

  async put(row: CredentialRow, expectedVersion: number | null): Promise<CredentialRow> {
    checkPut(row, expectedVersion);
    const p = new Params();
    const values = rowValues(row);
    const v = Object.fromEntries(BIGQUERY_SCHEMA.map((f) => [f.name, p.add(f.name, f.type, values[f.name])])) as Record<CredentialColumn, string>;
    const expected = p.add("expected_version", "INT64", expectedVersion);
    const updateSet = CREDENTIAL_COLUMNS.filter((c) => c !== "org" && c !== "provider")
      .map((c) => `${c} = ${v[c]}`)
      .join(", ");
    const insertValues = CREDENTIAL_COLUMNS.map((c) => v[c]).join(", ");
    // One statement: insert when no row exists and none was expected; replace when the stored
    // version is the expected one. Anything else changes 0 rows → conflict.
    const sql =
      `MERGE ${this.tableSql} AS t ` +
      `USING (SELECT ${v.org} AS org, ${v.provider} AS provider) AS s ` +
      `ON t.org = s.org AND t.provider = s.provider ` +
      `WHEN MATCHED AND ${expected} IS NOT NULL AND t.version = ${expected} THEN UPDATE SET ${updateSet} ` +
      `WHEN NOT MATCHED AND ${expected} IS NULL THEN INSERT (${COLUMNS}) VALUES (${insertValues})`;

    const intended = copyRow(row);
    await this.ensureReady();
    return this.serialize(async () => {
      let ambiguous = false;
      const { affected } = await this.withRetry("put", () => this.run(sql, p), () => (ambiguous = true));
      const n = this.affectedOrThrow(affected);
      if (n === 1) return intended;
      if (n > 1) throw new StoreUnavailableError(DUPLICATE_ROWS);
      // 0 rows. If an earlier attempt may have committed (5xx / dropped connection), our own write
      // is what the retry ran into: accept it when the stored row is exactly ours.
      if (ambiguous) {
        const current = await this.get(row.org, row.provider);
        if (current && sameRow(current, intended)) return intended;
      }
      throw new StoreConflictError();
    });
  }

  async update(org: string, provider: string, expectedVersion: number, patch: CredentialPatch, guard?: UpdateGuard): Promise<CredentialRow> {
    checkExpectedVersion(expectedVersion);
    const p = new Params();
    const columns = patchColumns(patch);
    const set = columns.map((c) => `${c.column} = ${p.add(`p_${c.column}`, c.kind, c.bound)}`);
    const patched = columns.map((c): [keyof CredentialPatch, unknown] => [c.field, c.value]);

    await this.ensureReady();
    if (set.length === 0) {
      const current = await this.get(org, provider);
      if (!current || current.version !== expectedVersion) throw new StoreConflictError();
      if (guard?.credentialId !== undefined && current.credentialId !== guard.credentialId) throw new StoreConflictError();
      return current;
    }
    const sql =
      `UPDATE ${this.tableSql} SET ${set.join(", ")} ` +
      `WHERE org = ${p.add("org", "STRING", org)} AND provider = ${p.add("provider", "STRING", provider)} ` +
      `AND version = ${p.add("expected_version", "INT64", expectedVersion)}` +
      (guard?.credentialId !== undefined ? ` AND credential_id = ${p.add("expected_credential_id", "STRING", guard.credentialId)}` : "");

    return this.serialize(async () => {
      let ambiguous = false;
      const { affected } = await this.withRetry("update", () => this.run(sql, p), () => (ambiguous = true));
      const n = this.affectedOrThrow(affected);
      if (n > 1) throw new StoreUnavailableError(DUPLICATE_ROWS);
      const current = await this.get(org, provider);
      if (n === 1) {
        if (!current) throw new StoreConflictError(); // deleted right after our update
        return current;
      }
      if (ambiguous && current && current.version === expectedVersion && patchApplied(current, patched)) {
        return current;
      }
      throw new StoreConflictError();
    });
  }

  async delete(org: string, provider: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion !== undefined) checkExpectedVersion(expectedVersion);
    const p = new Params();
    let sql =
      `DELETE FROM ${this.tableSql} WHERE org = ${p.add("org", "STRING", org)} ` +
      `AND provider = ${p.add("provider", "STRING", provider)}`;
    if (expectedVersion !== undefined) sql += ` AND version = ${p.add("expected_version", "INT64", expectedVersion)}`;

    await this.ensureReady();
    return this.serialize(async () => {
      let ambiguous = false;
      const { affected } = await this.withRetry("delete", () => this.run(sql, p), () => (ambiguous = true));
      const n = this.affectedOrThrow(affected);
      if (n > 0) return true;
      const current = await this.get(org, provider);
      if (expectedVersion !== undefined && current) throw new StoreConflictError();
      // Nothing deleted by the last attempt and no row left: if an earlier attempt may have
      // committed, it deleted the row.
      return current === null && ambiguous;
    });
  }

  async ping(): Promise<void> {
    await this.ensureReady();
    // tables.get: free, and proves the API answers and the table is there.
    await this.withRetry("ping", () => this.table.getMetadata());
  }

  async close(): Promise<void> {
    // Nothing to release: the client holds no connections of its own beyond the HTTP agent.
  }

  // ----------------------------------------------------------------------------------------------

  /** Creates the dataset and table on first use (idempotent; a race with another instance is fine). */
  private ensureReady(): Promise<void> {
    if (!this.ready) {
      this.ready = this.init().catch((err: unknown) => {
        this.ready = null; // try again on the next call
        throw err;
      });
    }
    return this.ready;
  }

  private async init(): Promise<void> {
    const dsMeta = await this.metadataOrNull<{ location?: string }>("datasets.get", () => this.dataset.getMetadata());
    if (dsMeta === null) {
      await this.withRetry("datasets.insert", async () => {
        try {
          await this.client.createDataset(this.datasetId, {
            location: this.location,
            // No defaultTableExpirationMs: the credentials table must never expire.
            // Time travel keeps deleted rows (and so deleted ciphertext) readable for the window;
            // 48 h is BigQuery's minimum (the default is 168 h).
            maxTimeTravelHours: BIGQUERY_MAX_TIME_TRAVEL_HOURS,
            description: "FinOps integration credentials (ciphertext only).",
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== 409) throw err; // created concurrently
        }
      });
    } else if (
      typeof dsMeta.location === "string" &&
      dsMeta.location.toUpperCase() !== this.location.toUpperCase()
    ) {
      throw new StoreUnavailableError(LOCATION_MISMATCH);
    }

    const tableMeta = await this.metadataOrNull<{ schema?: { fields?: Array<{ name?: string; type?: string }> } }>("tables.get", () =>
      this.table.getMetadata(),
    );
    if (tableMeta === null) {
      await this.withRetry("tables.insert", async () => {
        try {
          await this.dataset.createTable(BIGQUERY_TABLE, {
            schema: { fields: BIGQUERY_SCHEMA.map((f) => ({ name: f.name, type: f.type, mode: f.mode })) },
            clustering: { fields: [...BIGQUERY_CLUSTERING] },
            description: "One row per (org, provider): encrypted credential and non-secret columns.",
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== 409) throw err;
        }
      });
    } else {
      checkSchema(tableMeta.schema?.fields ?? []);
    }
  }

  /** A resource's metadata, or null when BigQuery answers 404 (it does not exist yet). */
  private metadataOrNull<T>(op: string, get: () => Promise<unknown[]>): Promise<T | null> {
    return this.withRetry(op, async () => {
      try {
        const [meta] = await get();
        return meta as T;
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return null;
        throw err;
      }
    });
  }

  /** One parameterized query via jobs.query (getQueryResults when it does not finish at once). */
  private async run(sql: string, p: Params): Promise<RunResult> {
    const [rows, , response] = (await this.client.query({
      query: sql,
      params: p.params,
      types: p.types,
      location: this.location,
      useLegacySql: false,
    })) as [RowMetadata[], unknown, unknown?];
    const r = (response ?? {}) as {
      numDmlAffectedRows?: string | number | null;
      dmlStats?: { insertedRowCount?: string; updatedRowCount?: string; deletedRowCount?: string } | null;
    };
    let affected: number | null = null;
    if (r.numDmlAffectedRows !== undefined && r.numDmlAffectedRows !== null) {
      affected = Number(r.numDmlAffectedRows);
    } else if (r.dmlStats) {
      affected =
        Number(r.dmlStats.insertedRowCount ?? 0) +
        Number(r.dmlStats.updatedRowCount ?? 0) +
        Number(r.dmlStats.deletedRowCount ?? 0);
    }
    return { rows: (rows ?? []) as Record<string, unknown>[], affected };
  }

  private affectedOrThrow(affected: number | null): number {
    if (affected === null || !Number.isSafeInteger(affected) || affected < 0) {
      throw new StoreUnavailableError(NO_AFFECTED_ROWS);
    }
    return affected;
  }

  /** Runs `fn` with bounded, jittered exponential backoff on retryable BigQuery errors. */
  private async withRetry<T>(op: string, fn: () => Promise<T>, onAmbiguous?: () => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withDeadline(fn(), this.requestTimeoutMs);
      } catch (err) {
        if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) throw err;
        const c = classify(err);
        if (c.kind === "streamingBuffer") throw new StoreUnavailableError(STREAMING_BUFFER, { cause: safeCause(op, c) });
        if (c.kind === "notFound") this.ready = null; // dataset/table vanished: re-check next time
        if (c.kind === "ambiguous") onAmbiguous?.();
        const retryable = c.kind === "retry" || c.kind === "ambiguous";
        if (!retryable || attempt >= this.maxAttempts) {
          throw new StoreUnavailableError(UNAVAILABLE, { cause: safeCause(op, c) });
        }
        // Full jitter: uniform in [base/2, base * 2^(attempt-1)], capped.
        const ceiling = Math.min(8_000, this.retryBaseMs * 2 ** (attempt - 1));
        await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.writeChain.then(fn, fn);
    this.writeChain = next.catch(() => undefined);
    return next;
  }
}

function sameRow(a: CredentialRow, b: CredentialRow): boolean {
  return (
    a.version === b.version &&
    a.credentialId === b.credentialId &&
    a.ciphertext.equals(b.ciphertext) &&
    a.keyRef === b.keyRef &&
    a.keyVersion === b.keyVersion &&
    a.fingerprint === b.fingerprint &&
    a.status === b.status &&
    a.updatedAt === b.updatedAt
  );
}

function patchApplied(current: CredentialRow, patched: Array<[keyof CredentialPatch, unknown]>): boolean {
  for (const [k, value] of patched) {
    const have = current[k];
    if (k === "ciphertext") {
      if (!(value as Buffer).equals(have as Buffer)) return false;
    } else if (k === "updatedAt" || k === "lastValidatedAt") {
      const want = value === null ? null : new Date(value as string).toISOString();
      if (have !== want) return false;
    } else if (JSON.stringify(canonical(have)) !== JSON.stringify(canonical(value))) {
      return false;
    }
  }
  return true;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
