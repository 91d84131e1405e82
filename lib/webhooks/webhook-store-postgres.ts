import "server-only";
import type { Pool } from "pg";
import { PostgresStore } from "../auth/pg-pool";
import { WEBHOOK_CREATED_BY_INDEX_SQL, webhookTablesSql, type AttemptOutcome, type DeliveryRecord, type WebhookEndpointRecord, type WebhookStore } from "./webhook-store";
import { toDelivery, toEndpoint, type DeliveryRow } from "./webhook-store-sqlite";

// The same tables as SqliteWebhookStore's; times are TIMESTAMPTZ.
const SCHEMA = `
  ${webhookTablesSql({ bytes: "BYTEA", time: "TIMESTAMPTZ" })}
  -- Who added an endpoint (a member's user id), so removing or demoting them deletes it; older rows stay NULL.
  ALTER TABLE webhook_endpoints ADD COLUMN IF NOT EXISTS created_by TEXT;
  ${WEBHOOK_CREATED_BY_INDEX_SQL};
`;

/**
 * WebhookStore in Postgres (AUTH_DATABASE_URL). The pool belongs to the caller (the process-wide
 * sharedAuthPool). Tables are created on first use, serialized across instances by an advisory lock.
 */
export class PostgresWebhookStore extends PostgresStore implements WebhookStore {
  constructor(pool: Pool) {
    super(pool, "webhook store", "credential-manager.webhook-store.schema", SCHEMA);
  }

  async createEndpoint(r: WebhookEndpointRecord): Promise<void> {
    await this.query(
      "INSERT INTO webhook_endpoints (id, org, url, events, secret_ciphertext, secret_key_ref, secret_key_version, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      [r.id, r.org, r.url, JSON.stringify(r.events), r.secretCiphertext, r.secretKeyRef, r.secretKeyVersion, r.createdAt, r.createdBy ?? null],
    );
  }

  async countEndpoints(org: string): Promise<number> {
    const { rows } = await this.query<{ n: string }>("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE org = $1", [org]);
    return Number(rows[0]?.n ?? 0);
  }

  async listEndpoints(org: string): Promise<WebhookEndpointRecord[]> {
    const { rows } = await this.query<Parameters<typeof toEndpoint>[0]>('SELECT * FROM webhook_endpoints WHERE org = $1 ORDER BY created_at, id COLLATE "C"', [org]);
    return rows.map(toEndpoint);
  }

  async getEndpoint(org: string, id: string): Promise<WebhookEndpointRecord | null> {
    const { rows } = await this.query<Parameters<typeof toEndpoint>[0]>("SELECT * FROM webhook_endpoints WHERE org = $1 AND id = $2", [org, id]);
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async deleteEndpoint(org: string, id: string): Promise<boolean> {
    return (await this.query("DELETE FROM webhook_endpoints WHERE org = $1 AND id = $2", [org, id])).rowCount === 1;
  }

  async deleteEndpointsCreatedBy(org: string, userId: string): Promise<Array<{ id: string; url: string }>> {
    const { rows } = await this.query<{ id: string; url: string }>("DELETE FROM webhook_endpoints WHERE org = $1 AND created_by = $2 RETURNING id, url", [org, userId]);
    return rows.sort((a, b) => a.id.localeCompare(b.id));
  }

  async enqueue(rows: Parameters<WebhookStore["enqueue"]>[0]): Promise<void> {
    if (rows.length === 0) return;
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.id, r.endpointId, r.org, r.event, r.provider, r.payload, r.createdAt, r.nextAttemptAt);
      const b = i * 8;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, 'pending', 0, $${b + 7}, $${b + 8})`;
    });
    await this.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, org, event, provider, payload, status, attempts, created_at, next_attempt_at) VALUES ${tuples.join(", ")}`,
      values,
    );
  }

  async claimDue(now: string, leaseUntil: string, limit: number): Promise<DeliveryRecord[]> {
    // FOR UPDATE SKIP LOCKED: concurrent instances claim disjoint rows without waiting on each other.
    const { rows } = await this.query<DeliveryRow>(
      `UPDATE webhook_deliveries SET locked_until = $1
       WHERE id IN (SELECT id FROM webhook_deliveries
                    WHERE status = 'pending' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)
                    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [leaseUntil, now, limit],
    );
    return rows.map(toDelivery).sort((a, b) => (a.nextAttemptAt ?? "").localeCompare(b.nextAttemptAt ?? ""));
  }

  async recordAttempt(id: string, o: AttemptOutcome): Promise<void> {
    await this.query(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, last_response_code = $2, last_error = $3, last_attempt_at = $4,
         next_attempt_at = $5, delivered_at = CASE WHEN $1 = 'delivered' THEN $4::timestamptz ELSE delivered_at END, locked_until = NULL
       WHERE id = $6`,
      [o.status, o.responseCode, o.error, o.at, o.nextAttemptAt, id],
    );
  }

  async listDeliveries(org: string, endpointId: string, limit: number): Promise<DeliveryRecord[]> {
    const { rows } = await this.query<DeliveryRow>(
      "SELECT * FROM webhook_deliveries WHERE org = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
      [org, endpointId, limit],
    );
    return rows.map(toDelivery);
  }

  async pruneFinished(before: string): Promise<number> {
    return (await this.query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1", [before])).rowCount;
  }
}
