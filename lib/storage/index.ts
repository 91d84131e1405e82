import "server-only";

import path from "node:path";

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

export type CredentialStoreBackend = "sqlite" | "bigquery";

export const SQLITE_FILE_NAME = "credentials.sqlite";

/**
 * Build the configured credential store. `sqlite` keeps one file at `<dataDir>/credentials.sqlite`
 * (throws StoreUnavailableError if it cannot be opened). `bigquery` is not in this build yet.
 */
export function createCredentialStore(opts: { backend: CredentialStoreBackend; dataDir: string }): CredentialStore {
  switch (opts.backend) {
    case "sqlite":
      return new SqliteCredentialStore({ file: path.join(opts.dataDir, SQLITE_FILE_NAME) });
    case "bigquery":
      throw new Error("CREDENTIAL_STORE=bigquery is not available yet in this build");
    default: {
      const unknown: never = opts.backend;
      throw new Error(`Unknown credential store backend: ${String(unknown)}`);
    }
  }
}
