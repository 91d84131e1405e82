import "server-only";
import { hasBrand } from "../brand";

export type IntegrationStatus = "active" | "invalid" | "expired" | "pending";

export interface AccountIdentity {
  id: string;
  name?: string | null;
  [key: string]: unknown;
}

export interface LastError {
  code: string;
  message: string;
  at: string;
}

/** One row of `org_integration_credentials`: ciphertext plus non-secret columns, never plaintext. */
export interface CredentialRow {
  org: string;
  provider: string;
  credentialId: string;
  ciphertext: Buffer;
  keyRef: string;
  keyVersion: string;
  fingerprint: string;
  status: IntegrationStatus;
  keyKind: string | null;
  metadata: Record<string, unknown>;
  account: AccountIdentity | null;
  /** Increments on every replacement of the credential (setup over an existing one). */
  version: number;
  createdAt: string; // ISO 8601
  updatedAt: string;
  lastValidatedAt: string | null;
  lastError: LastError | null;
}

/** What a listing shows: the row without its ciphertext and key columns (docs/architecture.md, "Listing"). */
export type CredentialSummary = Omit<CredentialRow, "ciphertext" | "credentialId" | "keyRef" | "keyVersion">;

/** Fields that may change without replacing the credential (validate, metadata, rotation). */
export type CredentialPatch = Partial<
  Pick<
    CredentialRow,
    | "ciphertext"
    | "keyRef"
    | "keyVersion"
    | "status"
    | "keyKind"
    | "metadata"
    | "account"
    | "lastValidatedAt"
    | "lastError"
    | "updatedAt"
  >
>;

export interface UpdateGuard {
  credentialId?: string;
}

// instanceof across module copies (lib/brand.ts).
const CONFLICT: unique symbol = Symbol.for("credential-manager.StoreConflictError") as never;
const UNAVAILABLE: unique symbol = Symbol.for("credential-manager.StoreUnavailableError") as never;

export class StoreConflictError extends Error {
  readonly [CONFLICT] = true;
  static override [Symbol.hasInstance](x: unknown): boolean {
    return hasBrand(x, CONFLICT);
  }
  constructor(message = "A concurrent change won; retry.") {
    super(message);
    this.name = "StoreConflictError";
  }
}

export class StoreUnavailableError extends Error {
  readonly [UNAVAILABLE] = true;
  static override [Symbol.hasInstance](x: unknown): boolean {
    return hasBrand(x, UNAVAILABLE);
  }
  constructor(message = "The credential store is unavailable.", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * The CredentialStore port. Every write is atomic and guarded by an expected version, so a
 * failure half way leaves the previous row exactly as it was and nothing partial is visible.
 */
export interface CredentialStore {
  readonly backend: "sqlite" | "bigquery";
  get(org: string, provider: string): Promise<CredentialRow | null>;
  listByOrg(org: string): Promise<CredentialRow[]>;
  /**
   * The org's rows ordered by provider, as a listing shows them: reads only the columns it
   * returns (never the ciphertext), so the list request does no more work than it answers with.
   */
  listSummaries(org: string): Promise<CredentialSummary[]>;
  /**
   * Insert or replace the whole row. `expectedVersion` null means "must not exist yet";
   * a number means "the stored row must have exactly this version". Otherwise StoreConflictError.
   * `row.version` is the new version (the caller computes expected + 1, or 1).
   */
  put(row: CredentialRow, expectedVersion: number | null): Promise<CredentialRow>;
  /**
   * Patch non-credential columns of the row whose version is `expectedVersion` (and, with
   * `guard.credentialId`, whose credential is still that one: after a delete, a new setup starts
   * again at version 1, so the version alone cannot tell two credentials apart); StoreConflictError if none.
   */
  update(org: string, provider: string, expectedVersion: number, patch: CredentialPatch, guard?: UpdateGuard): Promise<CredentialRow>;
  /** Delete the row; returns false if there was none. With `expectedVersion`, deletes only that version (else conflict). */
  delete(org: string, provider: string, expectedVersion?: number): Promise<boolean>;
  /** Rows ordered by (org, provider) after the given cursor, for rotation and validate-all. */
  listPage(opts: { after?: { org: string; provider: string }; limit: number }): Promise<CredentialRow[]>;
  /** A cheap call proving the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
