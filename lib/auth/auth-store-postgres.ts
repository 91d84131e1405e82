import "server-only";
import type { Pool } from "pg";
import { PostgresStore } from "./pg-pool";
import { ORGS_CREATED_BY_INDEX_SQL, apiKeyRecordFromRow, apiKeysTableSql, lastUseIsStale, newApiKeyMaterial, newExternalId, orgRecordFromRow, parseApiKey, secretMatches, type ApiKeyRecord, type ApiKeyRole, type ApiKeyTableRow, type AuthStore, type OrgRecord, type OrgTableRow, type VerifiedApiKey } from "./auth-store";

// The same tables as SqliteAuthStore's. Times are TIMESTAMPTZ (microsecond precision, so the
// millisecond ISO strings the store is given come back unchanged).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS orgs (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    external_id TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
  );
  ${apiKeysTableSql("IF NOT EXISTS org_api_keys", { bytes: "BYTEA", time: "TIMESTAMPTZ" })}
  CREATE INDEX IF NOT EXISTS org_api_keys_org ON org_api_keys(org);
  -- Tables made before the pipeline role: widen the role check (idempotent; small table).
  ALTER TABLE org_api_keys DROP CONSTRAINT IF EXISTS org_api_keys_role_check;
  ALTER TABLE org_api_keys ADD CONSTRAINT org_api_keys_role_check CHECK (role IN ('admin', 'viewer', 'pipeline'));
  -- Who created a key (the member's user id; NULL for the CLI), so removing the member revokes it.
  ALTER TABLE org_api_keys ADD COLUMN IF NOT EXISTS created_by TEXT;
  CREATE INDEX IF NOT EXISTS org_api_keys_created_by ON org_api_keys(org, created_by);
  -- Who created an org (the account's user id; NULL for the CLI and older orgs): createOrgLimited counts them.
  ALTER TABLE orgs ADD COLUMN IF NOT EXISTS created_by TEXT;
  ${ORGS_CREATED_BY_INDEX_SQL};
`;

// ORDER BY … COLLATE "C": byte order, as SQLite sorts. The database's default collation (often
// en_US.UTF-8) would ignore '-' and '_' and order slugs differently from the SQLite backend.
const ORG_COLUMNS = "slug, name, external_id, created_at";
const KEY_COLUMNS = "id, org, role, label, created_at, last_used_at, revoked_at, created_by";

/**
 * AuthStore in Postgres (AUTH_DATABASE_URL), in the same database as Better Auth's tables. The
 * pool belongs to the caller (normally the process-wide sharedAuthPool): close() stops this store
 * but leaves the pool to its owner. Tables are created on first use (idempotent, and serialized
 * across processes by an advisory lock so two instances starting together do not race).
 */
export class PostgresAuthStore extends PostgresStore implements AuthStore {
  constructor(pool: Pool) {
    super(pool, "auth store", "credential-manager.auth-store.schema", SCHEMA);
  }

  async getOrg(slug: string): Promise<OrgRecord | null> {
    const { rows } = await this.query<OrgRow>(`SELECT ${ORG_COLUMNS} FROM orgs WHERE slug = $1`, [slug]);
    return rows[0] ? toOrgRecord(rows[0]) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    const { rows } = await this.query<OrgRow>(`SELECT ${ORG_COLUMNS} FROM orgs ORDER BY slug COLLATE "C"`);
    return rows.map(toOrgRecord);
  }

  async createOrg(slug: string, name: string, now: Date): Promise<OrgRecord | null> {
    // No conflict target: like SQLite's INSERT OR IGNORE, any unique clash means "not created".
    const { rows } = await this.query<OrgRow>(
      `INSERT INTO orgs (slug, name, external_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING ${ORG_COLUMNS}`,
      [slug, name, newExternalId(), now],
    );
    return rows[0] ? toOrgRecord(rows[0]) : null;
  }

  async createOrgLimited(slug: string, name: string, now: Date, creator: { userId: string; max: number }): Promise<OrgRecord | "taken" | "limit"> {
    // Under READ COMMITTED two transactions could both count max - 1 and both insert, so each
    // account's creations take turns on an advisory lock held to COMMIT
    // (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS); a hash
    // collision between two accounts only makes them take turns too.
    return this.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`credential-manager.orgs-created-by:${creator.userId}`]);
      const { rows: counted } = await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM orgs WHERE created_by = $1", [creator.userId]);
      if (Number(counted[0]?.n ?? 0) >= creator.max) return "limit" as const;
      const { rows } = await client.query<OrgRow>(
        `INSERT INTO orgs (slug, name, external_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING ${ORG_COLUMNS}`,
        [slug, name, newExternalId(), now, creator.userId],
      );
      return rows[0] ? toOrgRecord(rows[0]) : ("taken" as const);
    });
  }

  async deleteOrg(slug: string): Promise<boolean> {
    return (await this.query("DELETE FROM orgs WHERE slug = $1", [slug])).rowCount === 1;
  }

  async createApiKey(org: string, role: ApiKeyRole, label: string | null, now: Date, createdBy: string | null = null): Promise<{ record: ApiKeyRecord; apiKey: string }> {
    const { id, apiKey, secretHash } = newApiKeyMaterial();
    const { rows } = await this.query<KeyRow>(
      `INSERT INTO org_api_keys (id, org, role, label, secret_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${KEY_COLUMNS}`,
      [id, org, role, label, secretHash, now, createdBy],
    );
    return { record: toKeyRecord(rows[0]!), apiKey };
  }

  async getApiKey(org: string, id: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM org_api_keys WHERE org = $1 AND id = $2`, [org, id]);
    return rows[0] ? toKeyRecord(rows[0]) : null;
  }

  async listApiKeys(org: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM org_api_keys WHERE org = $1 ORDER BY created_at, id COLLATE "C"`, [org]);
    return rows.map(toKeyRecord);
  }

  async revokeApiKey(org: string, id: string, now: Date): Promise<boolean> {
    const res = await this.query("UPDATE org_api_keys SET revoked_at = $1 WHERE org = $2 AND id = $3 AND revoked_at IS NULL", [now, org, id]);
    return res.rowCount === 1;
  }

  async revokeApiKeysCreatedBy(org: string, userId: string, now: Date): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>(
      "UPDATE org_api_keys SET revoked_at = $1 WHERE org = $2 AND created_by = $3 AND revoked_at IS NULL RETURNING id",
      [now, org, userId],
    );
    return rows.map((r) => r.id).sort();
  }

  async verifyApiKey(raw: string, now: Date): Promise<VerifiedApiKey | null> {
    const key = parseApiKey(raw);
    if (!key) return null;
    const { rows } = await this.query<{ org: string; role: ApiKeyRole; secret_hash: Buffer; revoked_at: Date | null; last_used_at: Date | null }>(
      "SELECT org, role, secret_hash, revoked_at, last_used_at FROM org_api_keys WHERE id = $1",
      [key.id],
    );
    const r = rows[0];
    if (!r || r.revoked_at || !secretMatches(key.secret, r.secret_hash)) return null;
    if (lastUseIsStale(r.last_used_at ? r.last_used_at.getTime() : null, now)) {
      await this.query("UPDATE org_api_keys SET last_used_at = $1 WHERE id = $2", [now, key.id]);
    }
    return { org: r.org, role: r.role, keyId: key.id };
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1");
  }
}

// TIMESTAMPTZ columns arrive as Date.
type OrgRow = OrgTableRow<Date>;
type KeyRow = ApiKeyTableRow<Date>;
const iso = (d: Date): string => d.toISOString();
const toOrgRecord = (r: OrgRow): OrgRecord => orgRecordFromRow(r, iso);
const toKeyRecord = (r: KeyRow): ApiKeyRecord => apiKeyRecordFromRow(r, iso);
