import "server-only";
import path from "node:path";
import type { Env } from "../env";
import { sharedAuthPool } from "../auth/pg-pool";
import type { WebhookStore } from "./webhook-store";
import { PostgresWebhookStore } from "./webhook-store-postgres";
import { SqliteWebhookStore } from "./webhook-store-sqlite";

/**
 * The webhook store for this configuration, in the auth database: Postgres (the shared pool)
 * with AUTH_DATABASE_URL, else DATA_DIR/auth.sqlite. Opened on first use, so processes that never
 * touch webhooks (most CLI commands, most unit tests) open nothing.
 */
export function createWebhookStore(env: Env): WebhookStore {
  let inner: WebhookStore | null = null;
  const open = (): WebhookStore =>
    (inner ??= env.AUTH_DATABASE_URL ? new PostgresWebhookStore(sharedAuthPool(env.AUTH_DATABASE_URL)) : new SqliteWebhookStore(path.join(env.dataDir, "auth.sqlite")));
  return {
    backend: env.AUTH_DATABASE_URL ? "postgres" : "sqlite",
    createEndpoint: (r) => open().createEndpoint(r),
    countEndpoints: (org) => open().countEndpoints(org),
    listEndpoints: (org) => open().listEndpoints(org),
    getEndpoint: (org, id) => open().getEndpoint(org, id),
    deleteEndpoint: (org, id) => open().deleteEndpoint(org, id),
    deleteEndpointsCreatedBy: (org, userId) => open().deleteEndpointsCreatedBy(org, userId),
    enqueue: (rows) => open().enqueue(rows),
    claimDue: (now, lease, limit) => open().claimDue(now, lease, limit),
    recordAttempt: (id, o) => open().recordAttempt(id, o),
    listDeliveries: (org, id, limit) => open().listDeliveries(org, id, limit),
    pruneFinished: (before) => open().pruneFinished(before),
    close: async () => {
      if (inner) await inner.close();
      inner = null;
    },
  };
}
