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
