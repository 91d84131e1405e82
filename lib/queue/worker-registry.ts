import "server-only";

// The process's background delivery workers, if it runs them (the server does; the CLI does not).
// Kept on globalThis because Next may load this module in several module graphs.
export type WorkerName = "webhooks" | "mail";
const KEY = Symbol.for("credential-manager.delivery-workers");
type G = typeof globalThis & { [KEY]?: Partial<Record<WorkerName, { kick(): void }>> };

const slots = (): Partial<Record<WorkerName, { kick(): void }>> => ((globalThis as G)[KEY] ??= {});

export function registerWorker(name: WorkerName, w: { kick(): void } | undefined): void {
  slots()[name] = w;
}

/** True when this process already runs that worker (Next may call register() from more than one module graph). */
export function hasWorker(name: WorkerName): boolean {
  return Boolean(slots()[name]);
}

/** Wake the worker now (new rows are due); a no-op in processes without one. */
export function kickWorker(name: WorkerName): void {
  slots()[name]?.kick();
}
