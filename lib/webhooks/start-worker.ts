import "server-only";
import { getDeps } from "../deps";
import { MailWorker } from "../mail/mail-worker";
import { WebhookWorker } from "./worker";
import { hasWorker } from "../queue/worker-registry";

const RETRY_MS = 30_000;

/**
 * Start this server process's delivery workers (once each): webhook deliveries and notification
 * mail. Called from instrumentation.ts. Never throws: a worker that cannot start (say the
 * configuration is broken) must not stop the server from serving; it is logged and tried again
 * every 30 seconds, and queued rows wait.
 */
export function startDeliveryWorkers(): void {
  if (hasWorker("webhooks") && hasWorker("mail")) return;
  try {
    const deps = getDeps();
    if (!hasWorker("webhooks")) new WebhookWorker({ webhooks: deps.webhooks, cipher: deps.cipher, log: deps.log, now: deps.now, allowPrivate: deps.env.WEBHOOK_ALLOW_PRIVATE }).start();
    if (!hasWorker("mail")) new MailWorker({ queue: deps.mailQueue, env: deps.env, log: deps.log, now: deps.now }).start();
  } catch (e) {
    process.stderr.write(`delivery workers not started (${(e as Error)?.name ?? "Error"}); retrying in ${RETRY_MS / 1000} s\n`);
    setTimeout(startDeliveryWorkers, RETRY_MS).unref();
  }
}
