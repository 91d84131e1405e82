import "server-only";
import type { Logger } from "pino";
import type { Cipher } from "../kms/cipher";
import { nextAttemptAt } from "./backoff";
import { attemptDelivery, type DeliverOptions } from "./deliver";
import { openWebhookSecret } from "./secret-box";
import type { Resolver } from "./ssrf";
import type { DeliveryRecord, WebhookStore } from "./webhook-store";
import { registerWebhookWorker } from "./worker-registry";

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

const LEASE_MS = 60_000;
const BATCH = 20;
const POLL_MS = 5_000;
const KEEP_FINISHED_MS = 30 * 86_400_000;

/**
 * Delivers queued webhook deliveries: claims due rows with a lease (so several instances share
 * the queue and a crashed one's claims come back after a minute), attempts each, and records the
 * outcome: delivered, retried with backoff (lib/webhooks/backoff.ts), or failed for good after 24
 * hours. Runs in the server process only, woken when events are queued and every few seconds for
 * retries; one pass at a time.
 */
export class WebhookWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private lastPrune = 0;

  constructor(private readonly deps: WorkerDeps) {}

  /** Deliver everything due now (repeats while a pass finds a full batch). Resolves when the pass ends. */
  runOnce(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const n = await this.pass();
          if (n >= BATCH) this.again = true;
        } while (this.again);
      } catch (e) {
        this.deps.log.error({ err_name: (e as Error)?.name }, "webhook worker pass failed");
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  kick(): void {
    void this.runOnce();
  }

  start(): void {
    if (this.timer) return;
    registerWebhookWorker(this);
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    registerWebhookWorker(undefined);
  }

  private async pass(): Promise<number> {
    const d = this.deps;
    const now = d.now();
    if (now - this.lastPrune > 3600_000) {
      this.lastPrune = now;
      await d.webhooks.pruneFinished(new Date(now - KEEP_FINISHED_MS).toISOString());
    }
    const due = await d.webhooks.claimDue(new Date(now).toISOString(), new Date(now + LEASE_MS).toISOString(), BATCH);
    await Promise.all(due.map((row) => this.deliver(row)));
    return due.length;
  }

  private async deliver(row: DeliveryRecord): Promise<void> {
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
