import "server-only";
import type { Logger } from "pino";
import type { Cipher } from "../kms/cipher";
import { nextAttemptAt } from "../queue/backoff";
import { attemptDelivery, type DeliverOptions } from "./deliver";
import { openWebhookSecret } from "./secret-box";
import type { Resolver } from "./ssrf";
import type { DeliveryRecord, WebhookStore } from "./webhook-store";
import { QueueWorker } from "../queue/queue-worker";

export interface WorkerDeps {
  webhooks: WebhookStore;
  cipher: Cipher;
  log: Logger;
  now: () => number;
  allowPrivate: boolean;
  resolve?: Resolver;
  timeoutMs?: number;
  random?: () => number;
  ca?: DeliverOptions["ca"];
}

/**
 * Delivers queued webhook deliveries: claims due rows with a one-minute lease, attempts each, and
 * records the outcome: delivered, retried with backoff (lib/queue/backoff.ts), or failed for
 * good after 24 hours. Runs in the server process only (the loop: lib/queue/queue-worker.ts).
 * Finished deliveries are kept 30 days (the endpoint's delivery log).
 */
export class WebhookWorker extends QueueWorker<DeliveryRecord> {
  constructor(private readonly deps: WorkerDeps) {
    super("webhooks", { queue: deps.webhooks, log: deps.log, now: deps.now }, { leaseMs: 60_000, batch: 20, keepFinishedMs: 30 * 86_400_000 });
  }

  protected async deliver(row: DeliveryRecord): Promise<void> {
    const d = this.deps;
    const endpoint = await d.webhooks.getEndpoint(row.org, row.endpointId);
    if (!endpoint) return; // deleted meanwhile: its deliveries went with it
    let result;
    try {
      const secret = await openWebhookSecret(d.cipher, endpoint.org, endpoint.id, endpoint.secretCiphertext);
      result = await attemptDelivery(
        { url: endpoint.url, secret, msgId: row.id, body: row.payload, nowMs: d.now() },
        { allowPrivate: d.allowPrivate, timeoutMs: d.timeoutMs ?? 10_000, resolve: d.resolve, ca: d.ca },
      );
    } catch (e) {
      result = { ok: false, responseCode: null, error: `internal error (${(e as Error)?.name ?? "Error"})` };
    }
    const at = d.now();
    const atIso = new Date(at).toISOString();
    if (result.ok) {
      await d.webhooks.recordAttempt(row.id, { status: "delivered", responseCode: result.responseCode, error: null, at: atIso, nextAttemptAt: null });
      d.log.info({ webhook_id: endpoint.id, delivery_id: row.id, event: row.event, org: row.org, status: result.responseCode, attempt: row.attempts + 1 }, "webhook delivered");
      return;
    }
    const next = nextAttemptAt({ attempts: row.attempts + 1, createdAtMs: Date.parse(row.createdAt), nowMs: at, random: d.random });
    await d.webhooks.recordAttempt(row.id, {
      status: next === null ? "failed" : "pending",
      responseCode: result.responseCode,
      error: result.error,
      at: atIso,
      nextAttemptAt: next === null ? null : new Date(next).toISOString(),
    });
    d.log.warn(
      { webhook_id: endpoint.id, delivery_id: row.id, event: row.event, org: row.org, status: result.responseCode, error: result.error, attempt: row.attempts + 1, gave_up: next === null },
      "webhook delivery failed",
    );
  }
}
