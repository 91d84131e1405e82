/**
 * Next calls register() once when a server process starts (https://nextjs.org/docs/app/api-reference/file-conventions/instrumentation).
 * Background work of the server lives here, never in the CLI: the delivery workers
 * (lib/webhooks/worker.ts, lib/mail/mail-worker.ts) send and retry queued webhook deliveries and
 * notification mail; lib/integrations/scheduler-start.ts
 * listens for other instances' cache invalidations and runs scheduled re-validation.
 */
export async function register(): Promise<void> {
  // Set by Next itself (not configuration): the Edge runtime has no sockets or SQLite.
  // eslint-disable-next-line no-restricted-syntax
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startDeliveryWorkers } = await import("./lib/webhooks/start-worker");
  startDeliveryWorkers();
  // Cache invalidations from the other instances (AUTH_DATABASE_URL) and scheduled re-validation (VALIDATE_EVERY).
  const { startServerJobs } = await import("./lib/integrations/scheduler-start");
  startServerJobs();
}
