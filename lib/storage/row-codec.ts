import "server-only";

import {
  StoreUnavailableError,
  type AccountIdentity,
  type CredentialPatch,
  type CredentialRow,
  type CredentialSummary,
  type IntegrationStatus,
  type LastError,
} from "./store";

/**
 * The one row codec of `org_integration_credentials`, shared by every CredentialStore backend
 * (lib/storage/sqlite.ts, lib/storage/bigquery/store.ts): the column names, which fields a patch
 * may change, the checks a write must pass before anything is sent, and the decoding of a stored
 * row back into a CredentialRow. Backends only bind values and run statements.
 *
 * Every error message here is fixed text naming a field, never a value: rows hold ciphertext and
 * tenants' metadata, and JSON.parse messages quote their input.
 */

/** The table's columns, in the order every backend declares and selects them. */
export const CREDENTIAL_COLUMNS = [
  "org",
  "provider",
  "credential_id",
  "ciphertext",
  "key_ref",
  "key_version",
  "fingerprint",
  "status",
  "key_kind",
  "metadata",
  "account",
  "version",
  "created_at",
  "updated_at",
  "last_validated_at",
  "last_error",
] as const;
export type CredentialColumn = (typeof CREDENTIAL_COLUMNS)[number];

/** What a listing shows (lib/integrations/list-integrations.ts): no ciphertext, no key columns. */
const NOT_LISTED: ReadonlySet<CredentialColumn> = new Set(["credential_id", "ciphertext", "key_ref", "key_version"] as const);
export const SUMMARY_COLUMNS: readonly CredentialColumn[] = CREDENTIAL_COLUMNS.filter((c) => !NOT_LISTED.has(c));

/** How a column's value travels: JSON columns as JSON text, timestamps as ISO 8601 text. */
export type ColumnKind = "STRING" | "BYTES" | "INT64" | "TIMESTAMP" | "JSON";

/** Patchable fields → column and kind. Identifiers in UPDATE text only ever come from here. */
export const PATCH_COLUMNS: { readonly [K in keyof Required<CredentialPatch>]: { column: CredentialColumn; kind: ColumnKind } } = {
  ciphertext: { column: "ciphertext", kind: "BYTES" },
  keyRef: { column: "key_ref", kind: "STRING" },
  keyVersion: { column: "key_version", kind: "STRING" },
  status: { column: "status", kind: "STRING" },
  keyKind: { column: "key_kind", kind: "STRING" },
  metadata: { column: "metadata", kind: "JSON" },
  account: { column: "account", kind: "JSON" },
  lastValidatedAt: { column: "last_validated_at", kind: "TIMESTAMP" },
  lastError: { column: "last_error", kind: "JSON" },
  updatedAt: { column: "updated_at", kind: "TIMESTAMP" },
};

export const STATUSES: readonly IntegrationStatus[] = ["active", "invalid", "expired", "pending"];
const STATUS_SET: ReadonlySet<string> = new Set(STATUSES);
const ISO_TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$/;

// ------------------------------------------------------------------------------------------------
// Checks before a write (a caller's mistake: TypeError/RangeError, never a conflict)
// ------------------------------------------------------------------------------------------------

export function checkExpectedVersion(value: unknown): void {
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
  if (typeof value !== "string" || !STATUS_SET.has(value)) {
    throw new TypeError(`status must be one of ${STATUSES.join(", ")}.`);
  }
}

function checkString(field: string, value: unknown, nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== "string") throw new TypeError(`${field} must be a string.`);
}

/** JSON text for a JSON column; a value that cannot be serialised fails with a fixed message. */
export function jsonText(field: string, value: unknown): string | null {
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

/** A whole row as `put` writes it: `version` one past the expected one (1 for a new row), every field well-formed. */
export function checkPut(row: CredentialRow, expectedVersion: number | null): void {
  if (expectedVersion !== null) checkExpectedVersion(expectedVersion);
  if (row.version !== (expectedVersion ?? 0) + 1) {
    throw new RangeError("row.version must be expectedVersion + 1 (1 for a new row).");
  }
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

/**
 * Every column of a row as it is bound (JSON columns as JSON text; timestamps normalised to
 * milliseconds and Z, so every backend stores, and every read returns, the same text).
 */
export function rowValues(row: CredentialRow): Record<CredentialColumn, string | number | Buffer | null> {
  return {
    org: row.org,
    provider: row.provider,
    credential_id: row.credentialId,
    ciphertext: row.ciphertext,
    key_ref: row.keyRef,
    key_version: row.keyVersion,
    fingerprint: row.fingerprint,
    status: row.status,
    key_kind: row.keyKind ?? null,
    metadata: jsonText("metadata", row.metadata ?? {}),
    account: jsonText("account", row.account),
    version: row.version,
    created_at: isoTimestamp(row.createdAt),
    updated_at: isoTimestamp(row.updatedAt),
    last_validated_at: row.lastValidatedAt ? isoTimestamp(row.lastValidatedAt) : null,
    last_error: jsonText("lastError", row.lastError),
  };
}

export interface PatchColumn {
  field: keyof CredentialPatch;
  column: CredentialColumn;
  kind: ColumnKind;
  /** The value as bound (JSON columns as JSON text). */
  bound: string | Buffer | null;
  /** The value as given. */
  value: unknown;
}

/**
 * The columns a patch sets, sorted by field name (so equal patches give equal statements), each
 * checked; undefined fields are left out. Fields only a replacement may change are refused.
 */
export function patchColumns(patch: CredentialPatch): PatchColumn[] {
  const out: PatchColumn[] = [];
  for (const key of Object.keys(patch).sort()) {
    const value = (patch as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (!Object.hasOwn(PATCH_COLUMNS, key)) {
      throw new TypeError(`Field "${key}" cannot be patched; replace the credential with put().`);
    }
    const field = key as keyof CredentialPatch;
    const spec = PATCH_COLUMNS[field];
    let bound = value as string | Buffer | null;
    switch (field) {
      case "ciphertext":
        if (!Buffer.isBuffer(value)) throw new TypeError("patch.ciphertext must be a Buffer.");
        break;
      case "status":
        checkStatus(value);
        break;
      case "keyRef":
      case "keyVersion":
        checkString(field, value, false);
        break;
      case "keyKind":
        checkString(field, value, true);
        break;
      case "updatedAt":
        checkTimestamp(field, value, false);
        bound = isoTimestamp(value as string); // stored normalised: every read returns the same text
        break;
      case "lastValidatedAt":
        checkTimestamp(field, value, true);
        bound = value === null ? null : isoTimestamp(value as string);
        break;
      case "metadata":
        if (value === null) throw new TypeError("metadata must be an object.");
        bound = jsonText(field, value);
        break;
      case "account":
      case "lastError":
        bound = jsonText(field, value);
        break;
    }
    out.push({ field, column: spec.column, kind: spec.kind, bound, value });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Decoding a stored row (a malformed one means the store is not trustworthy: StoreUnavailableError)
// ------------------------------------------------------------------------------------------------

/** Reads one column value; a backend may pass its own for timestamps (BigQuery's are objects). */
export interface ColumnDecoder {
  /** A timestamp column's value → ISO 8601 text, or null when absent. */
  timestamp(value: unknown): string | null;
}

/** Timestamps stored as ISO 8601 text (SQLite), normalised to milliseconds and Z like a BigQuery read. */
export const TEXT_TIMESTAMPS: ColumnDecoder = {
  timestamp(value) {
    if (value === null || value === undefined) return null;
    return isoTimestamp(typeof value === "string" ? value : null);
  },
};

/** ISO 8601 text with milliseconds and Z; TypeError for anything that is not a timestamp. */
export function isoTimestamp(text: string | null): string {
  const ms = text === null ? NaN : Date.parse(text);
  if (Number.isNaN(ms)) throw new TypeError("not a timestamp");
  return new Date(ms).toISOString();
}

export class RowDecoder {
  constructor(
    /** Fixed text for the StoreUnavailableError a malformed row raises, naming the backend. */
    private readonly malformed: string,
    private readonly columns: ColumnDecoder = TEXT_TIMESTAMPS,
  ) {}

  /** A full stored row (every CREDENTIAL_COLUMNS column) → CredentialRow. */
  row(r: Record<string, unknown>): CredentialRow {
    if (!Buffer.isBuffer(r.ciphertext)) throw this.bad();
    return {
      ...this.summary(r),
      credentialId: this.string(r.credential_id),
      ciphertext: r.ciphertext,
      keyRef: this.string(r.key_ref),
      keyVersion: this.string(r.key_version),
    };
  }

  /** A listing's row (SUMMARY_COLUMNS) → CredentialSummary. */
  summary(r: Record<string, unknown>): CredentialSummary {
    return {
      org: this.string(r.org),
      provider: this.string(r.provider),
      fingerprint: this.string(r.fingerprint),
      status: this.status(r.status),
      keyKind: this.nullableString(r.key_kind),
      metadata: this.object(r.metadata),
      account: this.nullableObject(r.account) as AccountIdentity | null,
      version: this.version(r.version),
      createdAt: this.requiredTimestamp(r.created_at),
      updatedAt: this.requiredTimestamp(r.updated_at),
      lastValidatedAt: this.timestamp(r.last_validated_at),
      lastError: this.nullableObject(r.last_error) as LastError | null,
    };
  }

  /** Rows of one listing: (org, provider) must be unique (two rows for one key: fail closed). */
  uniqueKeys<T extends { org: string; provider: string }>(rows: T[], duplicate: string): T[] {
    const seen = new Set<string>();
    for (const r of rows) {
      const key = `${r.org}\u0000${r.provider}`;
      if (seen.has(key)) throw new StoreUnavailableError(duplicate);
      seen.add(key);
    }
    return rows;
  }

  private bad(): StoreUnavailableError {
    return new StoreUnavailableError(this.malformed);
  }

  private string(v: unknown): string {
    if (typeof v !== "string") throw this.bad();
    return v;
  }

  private nullableString(v: unknown): string | null {
    return v === null || v === undefined ? null : this.string(v);
  }

  private status(v: unknown): IntegrationStatus {
    if (typeof v !== "string" || !STATUS_SET.has(v)) throw this.bad();
    return v as IntegrationStatus;
  }

  private version(v: unknown): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) throw this.bad();
    return v;
  }

  private timestamp(v: unknown): string | null {
    try {
      return this.columns.timestamp(v);
    } catch {
      throw this.bad();
    }
  }

  private requiredTimestamp(v: unknown): string {
    const t = this.timestamp(v);
    if (t === null) throw this.bad();
    return t;
  }

  private object(v: unknown): Record<string, unknown> {
    if (typeof v !== "string") throw this.bad();
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      // JSON.parse messages quote the input: never pass them on.
      throw this.bad();
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw this.bad();
    return parsed as Record<string, unknown>;
  }

  private nullableObject(v: unknown): Record<string, unknown> | null {
    return v === null || v === undefined ? null : this.object(v);
  }
}
