import "server-only";
import path from "node:path";
import type { Env } from "../env";
import { sharedAuthPool } from "../auth/pg-pool";
import type { MailQueue } from "./mail-queue";
import { PostgresMailQueue } from "./mail-queue-postgres";
import { SqliteMailQueue } from "./mail-queue-sqlite";

/**
 * The notification mail queue for this configuration, in the auth database: Postgres (the shared
 * pool) with AUTH_DATABASE_URL, else DATA_DIR/auth.sqlite. Opened on first use, so processes that
 * never queue or send a notification open nothing.
 */
export function createMailQueue(env: Env): MailQueue {
  let inner: MailQueue | null = null;
  const open = (): MailQueue =>
    (inner ??= env.AUTH_DATABASE_URL ? new PostgresMailQueue(sharedAuthPool(env.AUTH_DATABASE_URL)) : new SqliteMailQueue(path.join(env.dataDir, "auth.sqlite")));
  return {
    backend: env.AUTH_DATABASE_URL ? "postgres" : "sqlite",
    enqueue: (rows) => open().enqueue(rows),
    claimDue: (now, lease, limit) => open().claimDue(now, lease, limit),
    recordAttempt: (id, o) => open().recordAttempt(id, o),
    list: (org, limit) => open().list(org, limit),
    pruneFinished: (before) => open().pruneFinished(before),
    close: async () => {
      if (inner) await inner.close();
      inner = null;
    },
  };
}
