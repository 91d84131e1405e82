import "server-only";
import path from "node:path";
import type { Env } from "../env";
import { sharedAuthPool } from "../auth/pg-pool";
import { loadOrCreateAuditKey } from "./audit-key";
import { PostgresAuditStore } from "./audit-store-postgres";
import { SqliteAuditStore } from "./audit-store-sqlite";
import type { AuditBackend } from "./record-audit";

/** The audit trail lives in the auth database: Postgres with AUTH_DATABASE_URL (the shared pool), else DATA_DIR/auth.sqlite. */
export function createAuditBackend(env: Env): AuditBackend {
  const key = loadOrCreateAuditKey(env.dataDir, env.AUDIT_HMAC_KEY);
  const store = env.AUTH_DATABASE_URL
    ? new PostgresAuditStore(sharedAuthPool(env.AUTH_DATABASE_URL), key)
    : new SqliteAuditStore(path.join(env.dataDir, "auth.sqlite"), key);
  return { store, key, retentionDays: env.AUDIT_RETENTION_DAYS };
}
