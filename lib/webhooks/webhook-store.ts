import "server-only";
import type { DeliveryStatus, WebhookEventType } from "./schemas";

export interface WebhookEndpointRecord {
  id: string;
  org: string;
  url: string;
  events: WebhookEventType[];
  /** The signing secret, encrypted by the Cipher (AAD: org, "webhook", endpoint id); never plaintext at rest. */
  secretCiphertext: Buffer;
  secretKeyRef: string;
  secretKeyVersion: string;
  createdAt: string;
  /**
   * The user id of the member who added it (for an org API key, the member who created that key);
   * null when made by the CLI, by a key made by the CLI, or before creators were recorded. Removing
   * or demoting that member deletes the endpoint (withdrawGrants in lib/auth/org-accounts.ts).
   */
  createdBy?: string | null;
}

export interface DeliveryRecord {
  id: string;
  endpointId: string;
  org: string;
  event: WebhookEventType;
  provider: string | null;
  /** The JSON body sent, byte for byte on every attempt (it never holds a secret). */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  lastResponseCode: number | null;
  lastError: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  /** When the worker may try next; null once delivered or failed for good. */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  responseCode: number | null;
  error: string | null;
  at: string;
  nextAttemptAt: string | null;
}

/**
 * Webhook endpoints and the durable delivery queue, in the auth database (next to orgs and API
 * keys): SQLite in DATA_DIR/auth.sqlite by default, Postgres with AUTH_DATABASE_URL. Each queued
 * delivery is claimed with a lease, so several instances (or a crashed one) never lose a delivery,
 * and at most one instance attempts it at a time. Times are ISO 8601 strings with milliseconds.
 * lib/webhooks/webhook-store-contract.ts is the behaviour both implementations must have.
 */
export interface WebhookStore {
  readonly backend: "sqlite" | "postgres";
  createEndpoint(rec: WebhookEndpointRecord): Promise<void>;
  countEndpoints(org: string): Promise<number>;
  /** The org's endpoints, oldest first. */
  listEndpoints(org: string): Promise<WebhookEndpointRecord[]>;
  getEndpoint(org: string, id: string): Promise<WebhookEndpointRecord | null>;
  /** Removes the endpoint and its delivery log; false when the org has no such endpoint. */
  deleteEndpoint(org: string, id: string): Promise<boolean>;
  /** Removes every endpoint of the org created by this user (and their delivery logs); returns their ids and URLs. */
  deleteEndpointsCreatedBy(org: string, userId: string): Promise<Array<{ id: string; url: string }>>;
  /** Queue deliveries (status pending, due at `nextAttemptAt`). */
  enqueue(rows: Array<Pick<DeliveryRecord, "id" | "endpointId" | "org" | "event" | "provider" | "payload" | "createdAt" | "nextAttemptAt">>): Promise<void>;
  /**
   * Take up to `limit` due pending deliveries (next attempt ≤ now, no live lease), leasing each
   * until `leaseUntil` so no other worker takes it meanwhile. Oldest due first.
   */
  claimDue(now: string, leaseUntil: string, limit: number): Promise<DeliveryRecord[]>;
  /** Record one attempt and release the lease. */
  recordAttempt(id: string, outcome: AttemptOutcome): Promise<void>;
  /** The endpoint's deliveries, newest first. */
  listDeliveries(org: string, endpointId: string, limit: number): Promise<DeliveryRecord[]>;
  /** Deletes finished (delivered or failed) deliveries created before `before`; returns how many. */
  pruneFinished(before: string): Promise<number>;
  close(): Promise<void>;
}

export const ENDPOINT_ID_RE = /^wh_[0-9a-f]{16}$/;

/**
 * The webhook tables, for both stores: only the bytes and time column types differ by dialect.
 */
export function webhookTablesSql(types: { bytes: "BLOB" | "BYTEA"; time: "TEXT" | "TIMESTAMPTZ" }): string {
  return `  CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_ciphertext ${types.bytes} NOT NULL,
    secret_key_ref TEXT NOT NULL,
    secret_key_version TEXT NOT NULL,
    created_at ${types.time} NOT NULL
  );
  CREATE INDEX IF NOT EXISTS webhook_endpoints_org ON webhook_endpoints(org);
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    org TEXT NOT NULL,
    event TEXT NOT NULL,
    provider TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_response_code INTEGER,
    last_error TEXT,
    created_at ${types.time} NOT NULL,
    last_attempt_at ${types.time},
    next_attempt_at ${types.time},
    delivered_at ${types.time},
    locked_until ${types.time}
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
  CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
`;
}

/**
 * Who added an endpoint (a member's user id), a column added after the table existed: both stores
 * add it to older databases on open (Postgres: ADD COLUMN IF NOT EXISTS; SQLite, which has no IF
 * NOT EXISTS there, only when PRAGMA table_info lacks it). Rows made before stay without a creator.
 */
export const WEBHOOK_CREATED_BY_INDEX_SQL = "CREATE INDEX IF NOT EXISTS webhook_endpoints_created_by ON webhook_endpoints(org, created_by)";
