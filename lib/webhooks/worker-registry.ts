import "server-only";

// The process's delivery worker, if it runs one (the server does; the CLI does not). Kept on
// globalThis because Next may load this module in several module graphs.
const KEY = Symbol.for("credential-manager.webhook-worker");
type G = typeof globalThis & { [KEY]?: { kick(): void } };

export function registerWebhookWorker(w: { kick(): void } | undefined): void {
  (globalThis as G)[KEY] = w;
}

/** True when this process already runs a worker (Next may call register() from more than one module graph). */
export function hasWebhookWorker(): boolean {
  return Boolean((globalThis as G)[KEY]);
}

/** Wake the worker now (new deliveries are due); a no-op in processes without one. */
export function kickWebhookWorker(): void {
  (globalThis as G)[KEY]?.kick();
}
