import "server-only";
import { getDeps } from "../integrations/deps";
import { WebhookWorker } from "./worker";
import { hasWebhookWorker } from "./worker-registry";

/** Start this server process's webhook delivery worker (once): called from instrumentation.ts. */
export function startWebhookWorker(): void {
  if (hasWebhookWorker()) return;
  const deps = getDeps();
  const w = new WebhookWorker({ webhooks: deps.webhooks, cipher: deps.cipher, log: deps.log, now: deps.now, allowPrivate: deps.env.WEBHOOK_ALLOW_PRIVATE });
  w.start();
}
