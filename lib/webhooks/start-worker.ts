import "server-only";
import { getDeps } from "../deps";
import { WebhookWorker } from "./worker";
import { hasWebhookWorker, registerWebhookWorker } from "./worker-registry";

const RETRY_MS = 30_000;

/**
 * Start this server process's webhook delivery worker (once): called from instrumentation.ts.
 * Never throws: a worker that cannot start (say the configuration is broken) must not stop the
 * server from serving; it is logged and tried again every 30 seconds, and queued deliveries wait.
 */
export function startWebhookWorker(): void {
  if (hasWebhookWorker()) return;
  try {
    const deps = getDeps();
    new WebhookWorker({ webhooks: deps.webhooks, cipher: deps.cipher, log: deps.log, now: deps.now, allowPrivate: deps.env.WEBHOOK_ALLOW_PRIVATE }).start();
  } catch (e) {
    registerWebhookWorker(undefined);
    process.stderr.write(`webhook worker not started (${(e as Error)?.name ?? "Error"}); retrying in ${RETRY_MS / 1000} s\n`);
    setTimeout(startWebhookWorker, RETRY_MS).unref();
  }
}
