import "server-only";
import { Pool } from "pg";

const GLOBAL_KEY = Symbol.for("credential-manager.auth-pg-pools");
type GlobalWithPools = typeof globalThis & { [GLOBAL_KEY]?: Map<string, Pool> };

/**
 * The process's one pg Pool for AUTH_DATABASE_URL, shared by Better Auth (accounts.ts) and
 * PostgresAuthStore. Kept on globalThis because Next may load modules in several graphs. Never
 * ended: it lives as long as the process, and `allowExitOnIdle` lets a CLI run exit once its
 * queries are done.
 */
export function sharedAuthPool(url: string): Pool {
  const g = globalThis as GlobalWithPools;
  const pools = (g[GLOBAL_KEY] ??= new Map());
  let pool = pools.get(url);
  if (!pool) {
    pool = new Pool({ connectionString: url, max: 10, allowExitOnIdle: true });
    // An idle connection the server drops (restart, failover) emits 'error' on the pool, which
    // would crash the process without a listener; the pool discards it and the next query reconnects.
    pool.on("error", () => {});
    pools.set(url, pool);
  }
  return pool;
}
