import "server-only";

import {
  BigQuery,
  BigQueryTimestamp,
  type BigQueryOptions,
  type Dataset,
  type RowMetadata,
  type Table,
} from "@google-cloud/bigquery";
import { PassThroughClient } from "google-auth-library";

import {
  StoreConflictError,
  StoreUnavailableError,
  type AccountIdentity,
  type CredentialPatch,
  type CredentialRow,
  type CredentialStore,
  type IntegrationStatus,
  type LastError,
  type UpdateGuard,
} from "./store";

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

export const BIGQUERY_TABLE = "org_integration_credentials";

export interface BigQueryFieldSpec {
  readonly name: string;
  readonly type: "STRING" | "BYTES" | "INT64" | "TIMESTAMP" | "JSON";
  readonly mode: "REQUIRED" | "NULLABLE";
}

/**
 * The table schema. JSON columns use BigQuery's native JSON type (not STRING holding JSON): values
 * are sent as JSON-typed query parameters (JSON text) and come back as JSON text, which the store
 * parses itself; the native type lets operators query metadata with JSON functions and makes
 * BigQuery reject malformed JSON on write. BigQuery normalises JSON (object key order is not kept),
 * which does not matter to callers: values are compared structurally.
 */
export const BIGQUERY_SCHEMA: readonly BigQueryFieldSpec[] = [
  { name: "org", type: "STRING", mode: "REQUIRED" },
  { name: "provider", type: "STRING", mode: "REQUIRED" },
  { name: "credential_id", type: "STRING", mode: "REQUIRED" },
  { name: "ciphertext", type: "BYTES", mode: "REQUIRED" },
  { name: "key_ref", type: "STRING", mode: "NULLABLE" },
  { name: "key_version", type: "STRING", mode: "NULLABLE" },
  { name: "fingerprint", type: "STRING", mode: "NULLABLE" },
  { name: "status", type: "STRING", mode: "NULLABLE" },
  { name: "key_kind", type: "STRING", mode: "NULLABLE" },
  { name: "metadata", type: "JSON", mode: "NULLABLE" },
  { name: "account", type: "JSON", mode: "NULLABLE" },
  { name: "version", type: "INT64", mode: "REQUIRED" },
  { name: "created_at", type: "TIMESTAMP", mode: "NULLABLE" },
  { name: "updated_at", type: "TIMESTAMP", mode: "NULLABLE" },
  { name: "last_validated_at", type: "TIMESTAMP", mode: "NULLABLE" },
  { name: "last_error", type: "JSON", mode: "NULLABLE" },
];

export const BIGQUERY_CLUSTERING = ["org", "provider"] as const;

/**
 * Time travel keeps changed and deleted rows for 2-7 days (then 7 more days of fail-safe), so a
 * deleted credential's ciphertext persists that long, protected only by the key. 48 h is the
 * shortest window BigQuery allows.
 */
export const BIGQUERY_MAX_TIME_TRAVEL_HOURS = "48";

// Google project IDs: 6-30 chars, lowercase letters, digits, hyphens, starting with a letter; an
// optional domain prefix ("example.com:my-project"). Dataset IDs: letters, digits, underscores.
const PROJECT_ID_RE = /^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const DATASET_ID_RE = /^[A-Za-z0-9_]{1,1024}$/;
const LOCATION_RE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const ISO_TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$/;

const STATUSES: ReadonlySet<string> = new Set<IntegrationStatus>(["active", "invalid", "expired", "pending"]);

const UNAVAILABLE = "The BigQuery credential store is unavailable.";
const MALFORMED_ROW = "The BigQuery credential store returned a malformed row.";
const DUPLICATE_ROWS = "The BigQuery credential store holds more than one row for one org and provider.";
const NO_AFFECTED_ROWS = "BigQuery did not report how many rows a DML statement changed.";
const STREAMING_BUFFER =
  "BigQuery refused a DML statement because rows are in the streaming buffer (insertAll was used on the credentials table; it must never be).";
const LOCATION_MISMATCH = "The BigQuery credentials dataset exists in a different location than configured.";
const SCHEMA_MISMATCH = "The BigQuery credentials table does not have the expected schema.";

const COLUMNS = BIGQUERY_SCHEMA.map((f) => f.name).join(", ");

type ParamType = "STRING" | "INT64" | "BYTES" | "TIMESTAMP" | "JSON";

/** Named parameters with an explicit type each (a null value needs one, and we never infer). */
class Params {
  readonly params: Record<string, unknown> = {};
  readonly types: Record<string, string> = {};

  /** Adds a parameter and returns its SQL reference (`@name`). */
  add(name: string, type: ParamType, value: unknown): string {
    if (!/^[a-z_][a-z0-9_]*$/.test(name) || Object.hasOwn(this.types, name)) {
      throw new Error(`internal: bad or duplicate parameter name ${name}`);
    }
    this.types[name] = type;
    this.params[name] = encodeParam(type, value);
    return `@${name}`;
  }
}

function encodeParam(type: ParamType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "STRING":
      return String(value);
    case "INT64":
      return String(value);
    case "BYTES":
      // BigQuery wants base64 text; the client would serialise a Buffer as {"type":"Buffer",…}.
      return (value as Buffer).toString("base64");
    case "TIMESTAMP":
      // The client sends custom types through `.value`: a bare string would be dropped.
      return BigQuery.timestamp(value as string);
    case "JSON":
      return value; // already JSON text
  }
}

/** Patchable fields → column and type. Identifiers in UPDATE text only ever come from here. */
const PATCH_COLUMNS: { readonly [K in keyof Required<CredentialPatch>]: { column: string; type: ParamType } } = {
  ciphertext: { column: "ciphertext", type: "BYTES" },
  keyRef: { column: "key_ref", type: "STRING" },
  keyVersion: { column: "key_version", type: "STRING" },
  status: { column: "status", type: "STRING" },
  keyKind: { column: "key_kind", type: "STRING" },
  metadata: { column: "metadata", type: "JSON" },
  account: { column: "account", type: "JSON" },
  lastValidatedAt: { column: "last_validated_at", type: "TIMESTAMP" },
  lastError: { column: "last_error", type: "JSON" },
  updatedAt: { column: "updated_at", type: "TIMESTAMP" },
};

// ------------------------------------------------------------------------------------------------
// Value checks and conversions
// ------------------------------------------------------------------------------------------------

function checkExpectedVersion(value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError("expectedVersion must be an integer.");
  }
}

function checkTimestamp(field: string, value: unknown, nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== "string" || !ISO_TIMESTAMP_RE.test(value) || Number.isNaN(Date.parse(value))) {
    throw new RangeError(`${field} must be an ISO 8601 timestamp with a time zone.`);
  }
}

function checkStatus(value: unknown): void {
  if (typeof value !== "string" || !STATUSES.has(value)) {
    throw new TypeError("status must be one of active, invalid, expired, pending.");
  }
}

function checkString(field: string, value: unknown, nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== "string") throw new TypeError(`${field} must be a string.`);
}

/** JSON text for a JSON column; a value that cannot be serialised fails with a fixed message. */
function jsonText(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    throw new TypeError(`${field} must be JSON-serialisable.`);
  }
  if (text === undefined) throw new TypeError(`${field} must be JSON-serialisable.`);
  return text;
}

function checkRow(row: CredentialRow): void {
  checkString("org", row.org, false);
  checkString("provider", row.provider, false);
  checkString("credentialId", row.credentialId, false);
  if (!Buffer.isBuffer(row.ciphertext)) throw new TypeError("row.ciphertext must be a Buffer.");
  checkString("keyRef", row.keyRef, false);
  checkString("keyVersion", row.keyVersion, false);
  checkString("fingerprint", row.fingerprint, false);
  checkStatus(row.status);
  checkString("keyKind", row.keyKind ?? null, true);
  checkTimestamp("createdAt", row.createdAt, false);
  checkTimestamp("updatedAt", row.updatedAt, false);
  checkTimestamp("lastValidatedAt", row.lastValidatedAt ?? null, true);
}

function parseJsonObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "string") throw new StoreUnavailableError(MALFORMED_ROW);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // JSON.parse messages quote the input: never pass them on.
    throw new StoreUnavailableError(MALFORMED_ROW);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new StoreUnavailableError(MALFORMED_ROW);
  }
  return parsed as Record<string, unknown>;
}

function timestampOut(value: unknown, nullable: boolean): string | null {
  if (value === null || value === undefined) {
    if (nullable) return null;
    throw new StoreUnavailableError(MALFORMED_ROW);
  }
  const text = value instanceof BigQueryTimestamp ? value.value : typeof value === "string" ? value : null;
  const ms = text === null ? NaN : Date.parse(text);
  if (Number.isNaN(ms)) throw new StoreUnavailableError(MALFORMED_ROW);
  return new Date(ms).toISOString();
}

function stringOut(value: unknown, nullable: boolean): string | null {
  if (value === null || value === undefined) {
    if (nullable) return null;
    throw new StoreUnavailableError(MALFORMED_ROW);
  }
  if (typeof value !== "string") throw new StoreUnavailableError(MALFORMED_ROW);
  return value;
}

function fromBq(r: Record<string, unknown>): CredentialRow {
  if (!Buffer.isBuffer(r.ciphertext)) throw new StoreUnavailableError(MALFORMED_ROW);
  const version = r.version;
  if (typeof version !== "number" || !Number.isSafeInteger(version)) throw new StoreUnavailableError(MALFORMED_ROW);
  return {
    org: stringOut(r.org, false)!,
    provider: stringOut(r.provider, false)!,
    credentialId: stringOut(r.credential_id, false)!,
    ciphertext: r.ciphertext,
    keyRef: stringOut(r.key_ref, false)!,
    keyVersion: stringOut(r.key_version, false)!,
    fingerprint: stringOut(r.fingerprint, false)!,
    status: stringOut(r.status, false) as IntegrationStatus,
    keyKind: stringOut(r.key_kind, true),
    metadata: parseJsonObject(r.metadata),
    account: r.account === null || r.account === undefined ? null : (parseJsonObject(r.account) as AccountIdentity),
    version,
    createdAt: timestampOut(r.created_at, false)!,
    updatedAt: timestampOut(r.updated_at, false)!,
    lastValidatedAt: timestampOut(r.last_validated_at, true),
    lastError:
      r.last_error === null || r.last_error === undefined
        ? null
        : (parseJsonObject(r.last_error) as unknown as LastError),
  };
}

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

// ------------------------------------------------------------------------------------------------
// Error classification
// ------------------------------------------------------------------------------------------------

type ErrorKind =
  /** The statement did not run (lock conflict, DML quota/rate limit): safe to retry. */
  | "retry"
  /** The request may or may not have been applied (5xx, network, timeout): retry, then reconcile. */
  | "ambiguous"
  | "streamingBuffer"
  | "notFound"
  | "fatal";

interface Classified {
  kind: ErrorKind;
  /** Safe summary (HTTP status, reason, errno): never the server's message. */
  summary: string;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

function classify(err: unknown): Classified {
  const e = (err ?? {}) as {
    code?: unknown;
    errno?: unknown;
    type?: unknown;
    message?: unknown;
    errors?: unknown;
    name?: unknown;
  };
  const message = typeof e.message === "string" ? e.message : "";
  const reasons: string[] = [];
  const messages: string[] = [message];
  if (Array.isArray(e.errors)) {
    for (const x of e.errors as Array<{ reason?: unknown; message?: unknown }>) {
      if (typeof x?.reason === "string") reasons.push(x.reason);
      if (typeof x?.message === "string") messages.push(x.message);
    }
  }
  const text = messages.join("\n");
  const status = typeof e.code === "number" ? e.code : null;
  const errno = typeof e.code === "string" ? e.code : typeof e.errno === "string" ? e.errno : null;
  const summary =
    status !== null
      ? `HTTP ${status}${reasons.length ? ` ${[...new Set(reasons)].join(",")}` : ""}`
      : `network ${errno ?? (typeof e.type === "string" ? e.type : typeof e.name === "string" ? e.name : "error")}`;

  if (/would affect rows in the streaming buffer/i.test(text)) return { kind: "streamingBuffer", summary };
  if (/could not serialize access to table .* due to concurrent update/i.test(text)) return { kind: "retry", summary };
  if (reasons.includes("rateLimitExceeded") || reasons.includes("userRateLimitExceeded")) return { kind: "retry", summary };
  if (
    /too many DML statements/i.test(text) ||
    (/quota exceeded|exceeded quota/i.test(text) && /\bDML\b/i.test(text)) ||
    (reasons.includes("quotaExceeded") && /\bDML\b/i.test(text))
  ) {
    return { kind: "retry", summary };
  }
  if (status !== null) {
    if (status >= 500 || status === 408 || status === 429) return { kind: "ambiguous", summary };
    if (reasons.includes("backendError") || reasons.includes("internalError")) return { kind: "ambiguous", summary };
    if (status === 404) return { kind: "notFound", summary };
    return { kind: "fatal", summary };
  }
  // No HTTP status: a network failure (refused, reset, timeout) or a client-side failure.
  if (
    (errno !== null && NETWORK_CODES.has(errno)) ||
    e.type === "system" ||
    e.type === "request-timeout" ||
    e.name === "FetchError" ||
    e.name === "AbortError" ||
    /socket hang up|network timeout|ECONNRESET|ECONNREFUSED/i.test(message)
  ) {
    return { kind: "ambiguous", summary };
  }
  return { kind: "fatal", summary };
}

function safeCause(op: string, c: Classified): Error {
  return new Error(`BigQuery ${op} failed: ${c.summary}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rejects with an ETIMEDOUT error when `promise` has not settled within `ms`. Needed because the
 * client's own `timeout` option is not enforced: teeny-request hands it to node-fetch 3, which
 * ignores it. The abandoned request is left to the HTTP agent (the client exposes no abort).
 */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error("BigQuery request timed out") as Error & { code: string };
      err.code = "ETIMEDOUT";
      reject(err);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------------------------------------
// The store
// ------------------------------------------------------------------------------------------------

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
    return rows.length === 0 ? null : fromBq(rows[0]!);
  }

  async listByOrg(org: string): Promise<CredentialRow[]> {
    await this.ensureReady();
    const p = new Params();
    const sql = `SELECT ${COLUMNS} FROM ${this.tableSql} WHERE org = ${p.add("org", "STRING", org)} ORDER BY provider`;
    const { rows } = await this.withRetry("listByOrg", () => this.run(sql, p));
    return this.decodeList(rows);
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
    return this.decodeList(rows);
  }

  async put(row: CredentialRow, expectedVersion: number | null): Promise<CredentialRow> {
    if (expectedVersion !== null) checkExpectedVersion(expectedVersion);
    if (row.version !== (expectedVersion ?? 0) + 1) {
      throw new RangeError("row.version must be expectedVersion + 1 (1 for a new row).");
    }
    checkRow(row);
    const p = new Params();
    const v = {
      org: p.add("org", "STRING", row.org),
      provider: p.add("provider", "STRING", row.provider),
      credential_id: p.add("credential_id", "STRING", row.credentialId),
      ciphertext: p.add("ciphertext", "BYTES", row.ciphertext),
      key_ref: p.add("key_ref", "STRING", row.keyRef),
      key_version: p.add("key_version", "STRING", row.keyVersion),
      fingerprint: p.add("fingerprint", "STRING", row.fingerprint),
      status: p.add("status", "STRING", row.status),
      key_kind: p.add("key_kind", "STRING", row.keyKind ?? null),
      metadata: p.add("metadata", "JSON", jsonText("metadata", row.metadata ?? {})),
      account: p.add("account", "JSON", jsonText("account", row.account)),
      version: p.add("version", "INT64", row.version),
      created_at: p.add("created_at", "TIMESTAMP", row.createdAt),
      updated_at: p.add("updated_at", "TIMESTAMP", row.updatedAt),
      last_validated_at: p.add("last_validated_at", "TIMESTAMP", row.lastValidatedAt ?? null),
      last_error: p.add("last_error", "JSON", jsonText("lastError", row.lastError)),
    };
    const expected = p.add("expected_version", "INT64", expectedVersion);
    const updateSet = BIGQUERY_SCHEMA.filter((f) => f.name !== "org" && f.name !== "provider")
      .map((f) => `${f.name} = ${v[f.name as keyof typeof v]}`)
      .join(", ");
    const insertValues = BIGQUERY_SCHEMA.map((f) => v[f.name as keyof typeof v]).join(", ");
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

  async update(
    org: string,
    provider: string,
    expectedVersion: number,
    patch: CredentialPatch,
    guard?: UpdateGuard,
  ): Promise<CredentialRow> {
    checkExpectedVersion(expectedVersion);
    const p = new Params();
    const set: string[] = [];
    const patched: Array<[keyof CredentialPatch, unknown]> = [];
    for (const key of Object.keys(patch).sort()) {
      const value = (patch as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (!Object.hasOwn(PATCH_COLUMNS, key)) {
        throw new TypeError(`Field "${key}" cannot be patched; replace the credential with put().`);
      }
      const k = key as keyof CredentialPatch;
      const spec = PATCH_COLUMNS[k];
      let bound: unknown = value;
      switch (k) {
        case "ciphertext":
          if (!Buffer.isBuffer(value)) throw new TypeError("patch.ciphertext must be a Buffer.");
          break;
        case "status":
          checkStatus(value);
          break;
        case "keyRef":
        case "keyVersion":
          checkString(k, value, false);
          break;
        case "keyKind":
          checkString(k, value, true);
          break;
        case "updatedAt":
          checkTimestamp(k, value, false);
          break;
        case "lastValidatedAt":
          checkTimestamp(k, value, true);
          break;
        case "metadata":
          if (value === null) throw new TypeError("metadata must be an object.");
          bound = jsonText(k, value);
          break;
        case "account":
        case "lastError":
          bound = jsonText(k, value);
          break;
      }
      set.push(`${spec.column} = ${p.add(`p_${spec.column}`, spec.type, bound)}`);
      patched.push([k, value]);
    }

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
    const dsMeta = await this.withRetry("datasets.get", async () => {
      try {
        const [meta] = await this.dataset.getMetadata();
        return meta as { location?: string };
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return null;
        throw err;
      }
    });
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

    const tableMeta = await this.withRetry("tables.get", async () => {
      try {
        const [meta] = await this.table.getMetadata();
        return meta as { schema?: { fields?: Array<{ name?: string; type?: string }> } };
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return null;
        throw err;
      }
    });
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

  private decodeList(rows: Record<string, unknown>[]): CredentialRow[] {
    const out = rows.map(fromBq);
    for (let i = 1; i < out.length; i++) {
      if (out[i]!.org === out[i - 1]!.org && out[i]!.provider === out[i - 1]!.provider) {
        throw new StoreUnavailableError(DUPLICATE_ROWS);
      }
    }
    return out;
  }
}

function checkSchema(fields: Array<{ name?: string; type?: string }>): void {
  const alias: Record<string, string> = { INTEGER: "INT64", INT64: "INT64" };
  for (const want of BIGQUERY_SCHEMA) {
    const have = fields.find((f) => f.name === want.name);
    const type = have?.type ? (alias[have.type.toUpperCase()] ?? have.type.toUpperCase()) : null;
    if (type !== want.type) throw new StoreUnavailableError(SCHEMA_MISMATCH);
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
