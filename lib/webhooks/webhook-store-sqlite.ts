import "server-only";
import type Database from "better-sqlite3";
import { SqliteFileStore } from "../storage/sqlite-file";
import { WEBHOOK_CREATED_BY_INDEX_SQL, webhookTablesSql, type AttemptOutcome, type DeliveryRecord, type WebhookEndpointRecord, type WebhookStore } from "./webhook-store";
import type { DeliveryStatus, WebhookEventType } from "./schemas";

/** WebhookStore in SQLite (DATA_DIR/auth.sqlite, beside the org and API-key tables). */
export class SqliteWebhookStore extends SqliteFileStore implements WebhookStore {
  readonly backend = "sqlite" as const;
  /** Every integration event lists the org's endpoints: that statement is prepared once. */
  private listStmt: Database.Statement | null = null;

  constructor(file: string) {
    super(file);
    this.db.exec(`
      ${webhookTablesSql({ bytes: "BLOB", time: "TEXT" })}
    `);
    const cols = this.db.prepare("PRAGMA table_info(webhook_endpoints)").all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === "created_by")) this.db.exec("ALTER TABLE webhook_endpoints ADD COLUMN created_by TEXT");
    this.db.exec(WEBHOOK_CREATED_BY_INDEX_SQL);
  }

  async createEndpoint(r: WebhookEndpointRecord): Promise<void> {
    this.db
      .prepare("INSERT INTO webhook_endpoints (id, org, url, events, secret_ciphertext, secret_key_ref, secret_key_version, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(r.id, r.org, r.url, JSON.stringify(r.events), r.secretCiphertext, r.secretKeyRef, r.secretKeyVersion, r.createdAt, r.createdBy ?? null);
  }

  async countEndpoints(org: string): Promise<number> {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE org = ?").get(org) as { n: number }).n;
  }

  async listEndpoints(org: string): Promise<WebhookEndpointRecord[]> {
    this.listStmt ??= this.db.prepare("SELECT * FROM webhook_endpoints WHERE org = ? ORDER BY created_at, id");
    return (this.listStmt.all(org) as EndpointRow[]).map(toEndpoint);
  }

  async getEndpoint(org: string, id: string): Promise<WebhookEndpointRecord | null> {
    const r = this.db.prepare("SELECT * FROM webhook_endpoints WHERE org = ? AND id = ?").get(org, id) as EndpointRow | undefined;
    return r ? toEndpoint(r) : null;
  }

  async deleteEndpoint(org: string, id: string): Promise<boolean> {
    return this.db.prepare("DELETE FROM webhook_endpoints WHERE org = ? AND id = ?").run(org, id).changes === 1;
  }

  async deleteEndpointsCreatedBy(org: string, userId: string): Promise<Array<{ id: string; url: string }>> {
    const rows = this.db.prepare("DELETE FROM webhook_endpoints WHERE org = ? AND created_by = ? RETURNING id, url").all(org, userId) as Array<{ id: string; url: string }>;
    return rows.sort((a, b) => a.id.localeCompare(b.id));
  }

  async enqueue(rows: Parameters<WebhookStore["enqueue"]>[0]): Promise<void> {
    const ins = this.db.prepare(
      "INSERT INTO webhook_deliveries (id, endpoint_id, org, event, provider, payload, status, attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    );
    this.db.transaction(() => {
      for (const r of rows) ins.run(r.id, r.endpointId, r.org, r.event, r.provider, r.payload, r.createdAt, r.nextAttemptAt);
    })();
  }

  async claimDue(now: string, leaseUntil: string, limit: number): Promise<DeliveryRecord[]> {
    // One statement, and SQLite has one writer at a time: two processes never claim the same row.
    const rows = this.db
      .prepare(
        `UPDATE webhook_deliveries SET locked_until = ?
         WHERE id IN (SELECT id FROM webhook_deliveries
                      WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
                      ORDER BY next_attempt_at, id LIMIT ?)
         RETURNING *`,
      )
      .all(leaseUntil, now, now, limit) as DeliveryRow[];
    return rows.map(toDelivery).sort((a, b) => (a.nextAttemptAt ?? "").localeCompare(b.nextAttemptAt ?? ""));
  }

  async recordAttempt(id: string, o: AttemptOutcome): Promise<void> {
    this.db
      .prepare(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, last_response_code = ?, last_error = ?, last_attempt_at = ?,
           next_attempt_at = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, locked_until = NULL
         WHERE id = ?`,
      )
      .run(o.status, o.responseCode, o.error, o.at, o.nextAttemptAt, o.status, o.at, id);
  }

  async listDeliveries(org: string, endpointId: string, limit: number): Promise<DeliveryRecord[]> {
    const rows = this.db
      .prepare("SELECT * FROM webhook_deliveries WHERE org = ? AND endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ?")
      .all(org, endpointId, limit) as DeliveryRow[];
    return rows.map(toDelivery);
  }

  async pruneFinished(before: string): Promise<number> {
    return this.db.prepare("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?").run(before).changes;
  }
}

interface EndpointRow {
  id: string;
  org: string;
  url: string;
  events: string;
  secret_ciphertext: Buffer;
  secret_key_ref: string;
  secret_key_version: string;
  created_at: string;
  /** Absent only in a row read before the column existed. */
  created_by?: string | null;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  org: string;
  event: string;
  provider: string | null;
  payload: string;
  status: string;
  attempts: number;
  last_response_code: number | null;
  last_error: string | null;
  created_at: string | Date;
  last_attempt_at: string | Date | null;
  next_attempt_at: string | Date | null;
  delivered_at: string | Date | null;
}

const iso = (v: string | Date | null): string | null => (v === null ? null : v instanceof Date ? v.toISOString() : v);

export function toEndpoint(r: Omit<EndpointRow, "created_at"> & { created_at: string | Date }): WebhookEndpointRecord {
  return {
    id: r.id,
    org: r.org,
    url: r.url,
    events: JSON.parse(r.events) as WebhookEventType[],
    secretCiphertext: Buffer.from(r.secret_ciphertext),
    secretKeyRef: r.secret_key_ref,
    secretKeyVersion: r.secret_key_version,
    createdAt: iso(r.created_at)!,
    createdBy: r.created_by ?? null,
  };
}

export function toDelivery(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    org: r.org,
    event: r.event as WebhookEventType,
    provider: r.provider,
    payload: r.payload,
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    lastResponseCode: r.last_response_code === null ? null : Number(r.last_response_code),
    lastError: r.last_error,
    createdAt: iso(r.created_at)!,
    lastAttemptAt: iso(r.last_attempt_at),
    nextAttemptAt: iso(r.next_attempt_at),
    deliveredAt: iso(r.delivered_at),
  };
}
