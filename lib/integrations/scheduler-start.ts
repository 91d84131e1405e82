import "server-only";
import path from "node:path";
import { sharedAuthPool } from "../auth/pg-pool";
import { getDeps } from "../deps";
import { RevalidationScheduler } from "./scheduler";
import { PostgresRoundLease, SqliteRoundLease } from "./scheduler-lease";

const GLOBAL_KEY = Symbol.for("credential-manager.server-jobs");
type G = typeof globalThis & { [GLOBAL_KEY]?: { scheduler: RevalidationScheduler | null } };

/**
 * The server's own background work beside the webhook worker, started once per process from
 * instrumentation.ts (never by the CLI): with AUTH_DATABASE_URL, listening for the other
 * instances' cache invalidations; with VALIDATE_EVERY, scheduled re-validation.
 */
export function startServerJobs(): void {
  const g = globalThis as G;
  if (g[GLOBAL_KEY]) return;
  const deps = getDeps();
  g[GLOBAL_KEY] = { scheduler: null };
  deps.cacheSync?.listen().catch((e: unknown) => {
    deps.log.warn({ err_name: (e as Error)?.name ?? "Error" }, "cache-invalidation listener not connected yet; retrying (the TTL bounds staleness meanwhile)");
  });
  const every = deps.env.VALIDATE_EVERY;
  if (!every) return;
  const lease = deps.env.AUTH_DATABASE_URL
    ? new PostgresRoundLease(sharedAuthPool(deps.env.AUTH_DATABASE_URL))
    : new SqliteRoundLease(path.join(deps.env.dataDir, "auth.sqlite"));
  const scheduler = new RevalidationScheduler(deps, lease, every);
  g[GLOBAL_KEY].scheduler = scheduler;
  deps.log.info({ job: "revalidate", every_ms: every, holder: scheduler.holder }, "scheduled re-validation on");
  scheduler.start();
}
