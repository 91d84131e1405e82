import "server-only";
import { Pool, type PoolClient } from "pg";

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

/** Run `fn` in one transaction on a pooled connection: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * A store's tables, created on first use: `schema` (idempotent DDL) runs once per process, inside a
 * transaction holding the advisory lock `lockName`, so instances starting together do not race
 * (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). A failure (the
 * database not up yet) is not remembered: the next call tries again.
 */
export function schemaOnFirstUse(pool: Pool, lockName: string, schema: string): () => Promise<void> {
  let ready: Promise<void> | null = null;
  return () =>
    (ready ??= inTransaction(pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [lockName]);
      await client.query(schema);
    }).catch((e: unknown) => {
      ready = null;
      throw e;
    }));
}

/**
 * What the Postgres stores (auth, webhooks) share: the caller's pool (close() stops the store but
 * leaves the pool to its owner), tables created on first use by schemaOnFirstUse, and `query`,
 * which refuses once the store is closed.
 */
export abstract class PostgresStore {
  readonly backend = "postgres" as const;
  private closed = false;
  private readonly migrated: () => Promise<void>;

  /** `what` names the store in the closed error ("auth store"); `lockName` and `schema` go to schemaOnFirstUse. */
  protected constructor(
    protected readonly pool: Pool,
    private readonly what: string,
    lockName: string,
    schema: string,
  ) {
    this.migrated = schemaOnFirstUse(pool, lockName, schema);
  }

  /** Runs one parameterized statement once the tables exist. */
  protected async query<R extends object>(text: string, values: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> {
    if (this.closed) throw new Error(`The ${this.what} is closed.`);
    await this.migrated();
    const res = await this.pool.query(text, values);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  /** Runs `fn` in one transaction (inTransaction) once the tables exist. */
  protected async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`The ${this.what} is closed.`);
    await this.migrated();
    return inTransaction(this.pool, fn);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
