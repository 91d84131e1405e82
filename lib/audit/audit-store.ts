import "server-only";
import { eventDetails, type AuditAction, type AuditEvent } from "./events";
import type { ChainedAuditEvent, ChainHead } from "./chain";

export interface AuditListQuery {
  limit: number;
  /** Only events with seq below this (the cursor of the previous page). */
  beforeSeq?: number;
  provider?: string;
  action?: AuditAction;
}

/**
 * Table `audit_events` (plus `audit_chain_heads`) in the auth database: SqliteAuditStore in
 * DATA_DIR/auth.sqlite by default, PostgresAuditStore with AUTH_DATABASE_URL. Append-only: the
 * database refuses UPDATE, and DELETE except inside prune(). lib/audit/audit-store-contract.ts is
 * the behaviour both must have.
 */
export interface AuditStore {
  readonly backend: "sqlite" | "postgres";
  /**
   * Chains and stores one event: in one transaction that holds the org's head row, so concurrent
   * appends for an org (from any process) serialize and the chain never forks.
   */
  append(event: AuditEvent): Promise<ChainedAuditEvent>;
  /**
   * Chains and stores several events of one org, in order, in one such transaction (a batch from
   * one run, e.g. `kms rotate`): one lock and one commit instead of one per event. All or none.
   */
  appendMany(events: readonly AuditEvent[]): Promise<ChainedAuditEvent[]>;
  /** The org's events, newest first (by seq). */
  list(org: string, q: AuditListQuery): Promise<ChainedAuditEvent[]>;
  /** The org's events in chain order with seq > afterSeq (for verification), at most `limit`. */
  readChain(org: string, afterSeq: number, limit: number): Promise<ChainedAuditEvent[]>;
  getHead(org: string): Promise<ChainHead | null>;
  /** Every org that has a head row or any event, by slug. */
  listChainOrgs(): Promise<string[]>;
  /**
   * Retention: per org, deletes the oldest events up to the first one at or after `cutoff` and
   * moves the head's pruned point there (in the same transaction), so the chain still verifies.
   * Returns how many events were deleted.
   */
  prune(cutoff: Date): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A row's columns, shared by both backends' mapping. */
export interface AuditRow {
  id: string;
  org: string;
  seq: number;
  at: string;
  actor_type: string;
  actor_id: string;
  actor_email: string | null;
  action: string;
  provider: string | null;
  fingerprint_before: string | null;
  fingerprint_after: string | null;
  outcome: string;
  request_id: string;
  client_ip: string | null;
  target: string | null;
  prev_hash: string;
  hash: string;
}

export function rowToEvent(r: AuditRow): ChainedAuditEvent {
  return {
    id: r.id,
    at: r.at,
    org: r.org,
    actor: { type: r.actor_type as ChainedAuditEvent["actor"]["type"], id: r.actor_id, ...(r.actor_email !== null ? { email: r.actor_email } : {}) },
    action: r.action as AuditAction,
    provider: r.provider,
    fingerprint_before: r.fingerprint_before,
    fingerprint_after: r.fingerprint_after,
    outcome: r.outcome,
    request_id: r.request_id,
    client_ip: r.client_ip,
    target: r.target,
    seq: Number(r.seq),
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The audit tables, for both stores: only the integer and time column types differ by dialect
 * (Postgres keeps `at` as TIMESTAMPTZ, microseconds, so the millisecond ISO strings come back
 * unchanged and the hashes still match). Each store adds its own append-only triggers.
 */
export function auditTablesSql(types: { int: "INTEGER" | "BIGINT"; time: "TEXT" | "TIMESTAMPTZ" }): string {
  return `  CREATE TABLE IF NOT EXISTS audit_events (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    seq ${types.int} NOT NULL,
    at ${types.time} NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_email TEXT,
    action TEXT NOT NULL,
    provider TEXT,
    fingerprint_before TEXT,
    fingerprint_after TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    client_ip TEXT,
    target TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (org, seq)
  );
  CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events(at);
  CREATE TABLE IF NOT EXISTS audit_chain_heads (
    org TEXT PRIMARY KEY,
    last_seq ${types.int} NOT NULL,
    last_hash TEXT NOT NULL,
    pruned_seq ${types.int} NOT NULL,
    pruned_hash TEXT NOT NULL,
    mac TEXT NOT NULL
  );
`;
}

/** The one org of a batch (appendMany): a batch that mixes orgs is a programming error. */
export function batchOrg(events: readonly AuditEvent[]): string {
  const org = events[0]!.org;
  if (events.some((e) => e.org !== org)) throw new Error("appendMany takes the events of one org");
  return org;
}

export function eventToParams(e: AuditEvent, seq: number, prevHash: string, hash: string): unknown[] {
  return [e.id, e.org, seq, e.at, ...eventDetails(e), prevHash, hash];
}

export const AUDIT_COLUMNS =
  "id, org, seq, at, actor_type, actor_id, actor_email, action, provider, fingerprint_before, fingerprint_after, outcome, request_id, client_ip, target, prev_hash, hash";
