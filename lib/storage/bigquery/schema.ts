import "server-only";

import { StoreUnavailableError } from "../store";
import { CREDENTIAL_COLUMNS, type CredentialColumn } from "../row-codec";

/**
 * The BigQuery table `<project>.<dataset>.org_integration_credentials`: its schema, clustering,
 * time-travel window and the identifier checks that keep project, dataset and location out of SQL
 * unless they match Google's own patterns. Columns and their order are the shared row codec's
 * (lib/storage/row-codec.ts); this file says only how BigQuery types them.
 */

export const BIGQUERY_TABLE = "org_integration_credentials";

export interface BigQueryFieldSpec {
  readonly name: CredentialColumn;
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
 * shortest window BigQuery allows. https://cloud.google.com/bigquery/docs/time-travel
 */
export const BIGQUERY_MAX_TIME_TRAVEL_HOURS = "48";

export const SCHEMA_MISMATCH = "The BigQuery credentials table does not have the expected schema.";

// Google project IDs: 6-30 chars, lowercase letters, digits, hyphens, starting with a letter; an
// optional domain prefix ("example.com:my-project"). Dataset IDs: letters, digits, underscores.
export const PROJECT_ID_RE = /^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export const DATASET_ID_RE = /^[A-Za-z0-9_]{1,1024}$/;
export const LOCATION_RE = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/** Refuses a table whose columns do not have the types this store writes (StoreUnavailableError). */
export function checkSchema(fields: Array<{ name?: string; type?: string }>): void {
  const alias: Record<string, string> = { INTEGER: "INT64", INT64: "INT64" };
  for (const want of BIGQUERY_SCHEMA) {
    const have = fields.find((f) => f.name === want.name);
    const type = have?.type ? (alias[have.type.toUpperCase()] ?? have.type.toUpperCase()) : null;
    if (type !== want.type) throw new StoreUnavailableError(SCHEMA_MISMATCH);
  }
}


// The schema names every column of the shared codec, in its order (checked when this module loads).
if (BIGQUERY_SCHEMA.map((f) => f.name).join() !== CREDENTIAL_COLUMNS.join()) {
  throw new Error("internal: BIGQUERY_SCHEMA and CREDENTIAL_COLUMNS disagree");
}
