import "server-only";

import path from "node:path";

import { BigQueryCredentialStore } from "./bigquery";
import { SqliteCredentialStore } from "./sqlite";
import type { CredentialStore } from "./store";

export type {
  AccountIdentity,
  CredentialPatch,
  CredentialRow,
  CredentialStore,
  IntegrationStatus,
  LastError,
} from "./store";
export { StoreConflictError, StoreUnavailableError } from "./store";
export { SqliteCredentialStore } from "./sqlite";
export { BigQueryCredentialStore } from "./bigquery";

export type CredentialStoreBackend = "sqlite" | "bigquery";

export const SQLITE_FILE_NAME = "credentials.sqlite";

/** BigQuery settings (docs/operations.md, "BigQuery": BIGQUERY_PROJECT, BIGQUERY_DATASET, BIGQUERY_LOCATION, BIGQUERY_API_ENDPOINT). */
export interface BigQueryStoreSettings {
  projectId?: string;
  /** Default "integrations". */
  dataset?: string;
  /** Default "US". */
  location?: string;
  /** A local REST endpoint used without Google credentials (tests, emulators). */
  apiEndpoint?: string;
}

/**
 * Build the configured credential store. `sqlite` keeps one file at `<dataDir>/credentials.sqlite`
 * (throws StoreUnavailableError if it cannot be opened). `bigquery` uses the table
 * `org_integration_credentials` in `bigquery.projectId`/`bigquery.dataset`, created on first use.
 */
export function createCredentialStore(opts: {
  backend: CredentialStoreBackend;
  dataDir: string;
  bigquery?: BigQueryStoreSettings;
}): CredentialStore {
  switch (opts.backend) {
    case "sqlite":
      return new SqliteCredentialStore({ file: path.join(opts.dataDir, SQLITE_FILE_NAME) });
    case "bigquery": {
      const bq = opts.bigquery ?? {};
      if (!bq.projectId) {
        throw new Error("CREDENTIAL_STORE=bigquery needs BIGQUERY_PROJECT (the Google Cloud project of the dataset)");
      }
      return new BigQueryCredentialStore({
        projectId: bq.projectId,
        dataset: bq.dataset || "integrations",
        location: bq.location || "US",
        apiEndpoint: bq.apiEndpoint || undefined,
      });
    }
    default: {
      const unknown: never = opts.backend;
      throw new Error(`Unknown credential store backend: ${String(unknown)}`);
    }
  }
}
