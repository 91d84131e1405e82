import "server-only";
import type Database from "better-sqlite3";
import { SqliteFileStore } from "../storage/sqlite-file";
import { ORGS_CREATED_BY_INDEX_SQL, apiKeyRecordFromRow, apiKeysTableSql, lastUseIsStale, newApiKeyMaterial, newExternalId, orgRecordFromRow, parseApiKey, secretMatches, type ApiKeyRecord, type ApiKeyRole, type ApiKeyTableRow, type AuthStore, type OrgRecord, type OrgTableRow, type VerifiedApiKey } from "./auth-store";

/**
 * AuthStore in SQLite (DATA_DIR/auth.sqlite, the default; Better Auth's tables share the file).
 * better-sqlite3 is synchronous: the methods are async only to share the interface with Postgres.
 */
export class SqliteAuthStore extends SqliteFileStore implements AuthStore {
  readonly backend = "sqlite" as const;
  // Statements on the request path (every API call verifies a key and reads its org) go through stmt(): prepared once.

  constructor(file: string) {
    super(file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS orgs (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        external_id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      ${apiKeysTableSql("IF NOT EXISTS org_api_keys", SQLITE_TYPES)}
      CREATE INDEX IF NOT EXISTS org_api_keys_org ON org_api_keys(org);
    `);
    widenRoleCheck(this.db);
    addCreatedByColumn(this.db);
    addOrgCreatedByColumn(this.db);
  }

  async getOrg(slug: string): Promise<OrgRecord | null> {
    const r = this.stmt("SELECT slug, name, external_id, created_at FROM orgs WHERE slug = ?").get(slug) as OrgRow | undefined;
    return r ? toOrgRecord(r) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    const rows = this.db.prepare("SELECT slug, name, external_id, created_at FROM orgs ORDER BY slug").all() as OrgRow[];
    return rows.map(toOrgRecord);
  }

  async createOrg(slug: string, name: string, now: Date): Promise<OrgRecord | null> {
    const res = this.db
      .prepare("INSERT OR IGNORE INTO orgs (slug, name, external_id, created_at) VALUES (?, ?, ?, ?)")
      .run(slug, name, newExternalId(), now.toISOString());
    return res.changes === 1 ? this.getOrg(slug) : null;
  }

  async createOrgLimited(slug: string, name: string, now: Date, creator: { userId: string; max: number }): Promise<OrgRecord | "taken" | "limit"> {
    // One statement: SQLite runs one writer at a time (across processes too), so the count and
    // the insert cannot interleave with another creation.
    const res = this.db
      .prepare(
        `INSERT OR IGNORE INTO orgs (slug, name, external_id, created_at, created_by)
         SELECT ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM orgs WHERE created_by = ?) < ?`,
      )
      .run(slug, name, newExternalId(), now.toISOString(), creator.userId, creator.userId, creator.max);
    if (res.changes === 1) return (await this.getOrg(slug))!;
    return (await this.getOrg(slug)) ? "taken" : "limit";
  }

  async deleteOrg(slug: string): Promise<boolean> {
    return this.db.prepare("DELETE FROM orgs WHERE slug = ?").run(slug).changes === 1;
  }

  async createApiKey(org: string, role: ApiKeyRole, label: string | null, now: Date, createdBy: string | null = null): Promise<{ record: ApiKeyRecord; apiKey: string }> {
    const { id, apiKey, secretHash } = newApiKeyMaterial();
    this.db
      .prepare("INSERT INTO org_api_keys (id, org, role, label, secret_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(id, org, role, label, secretHash, now.toISOString(), createdBy);
    return { record: (await this.getApiKey(org, id))!, apiKey };
  }

  async getApiKey(org: string, id: string): Promise<ApiKeyRecord | null> {
    const r = this.db
      .prepare("SELECT id, org, role, label, created_at, last_used_at, revoked_at, created_by FROM org_api_keys WHERE org = ? AND id = ?")
      .get(org, id) as KeyRow | undefined;
    return r ? toKeyRecord(r) : null;
  }

  async listApiKeys(org: string): Promise<ApiKeyRecord[]> {
    const rows = this.db
      .prepare("SELECT id, org, role, label, created_at, last_used_at, revoked_at, created_by FROM org_api_keys WHERE org = ? ORDER BY created_at, id")
      .all(org) as KeyRow[];
    return rows.map(toKeyRecord);
  }

  async revokeApiKey(org: string, id: string, now: Date): Promise<boolean> {
    const res = this.db
      .prepare("UPDATE org_api_keys SET revoked_at = ? WHERE org = ? AND id = ? AND revoked_at IS NULL")
      .run(now.toISOString(), org, id);
    return res.changes === 1;
  }

  async revokeApiKeysCreatedBy(org: string, userId: string, now: Date): Promise<string[]> {
    const rows = this.db
      .prepare("UPDATE org_api_keys SET revoked_at = ? WHERE org = ? AND created_by = ? AND revoked_at IS NULL RETURNING id")
      .all(now.toISOString(), org, userId) as Array<{ id: string }>;
    return rows.map((r) => r.id).sort();
  }

  async verifyApiKey(raw: string, now: Date): Promise<VerifiedApiKey | null> {
    const key = parseApiKey(raw);
    if (!key) return null;
    const r = this.stmt("SELECT org, role, secret_hash, revoked_at, last_used_at FROM org_api_keys WHERE id = ?").get(key.id) as
      | { org: string; role: ApiKeyRole; secret_hash: Buffer; revoked_at: string | null; last_used_at: string | null }
      | undefined;
    if (!r || r.revoked_at || !secretMatches(key.secret, r.secret_hash)) return null;
    if (lastUseIsStale(r.last_used_at ? Date.parse(r.last_used_at) : null, now)) {
      this.stmt("UPDATE org_api_keys SET last_used_at = ? WHERE id = ?").run(now.toISOString(), key.id);
    }
    return { org: r.org, role: r.role, keyId: key.id };
  }
}

// Times are stored as ISO 8601 text already.
type OrgRow = OrgTableRow<string>;
type KeyRow = ApiKeyTableRow<string>;
const text = (t: string): string => t;
const toOrgRecord = (r: OrgRow): OrgRecord => orgRecordFromRow(r, text);
const toKeyRecord = (r: KeyRow): ApiKeyRecord => apiKeyRecordFromRow(r, text);

/** Who created a key (files made before it was recorded get the column, empty: such keys count as the CLI's). */
function addCreatedByColumn(db: Database.Database): void {
  const cols = db.prepare("PRAGMA table_info(org_api_keys)").all() as Array<{ name: string }>;
  if (!cols.some((c) => c.name === "created_by")) db.exec("ALTER TABLE org_api_keys ADD COLUMN created_by TEXT");
  db.exec("CREATE INDEX IF NOT EXISTS org_api_keys_created_by ON org_api_keys(org, created_by)");
}

/** Who created an org (files made before it was recorded get the column, empty: such orgs count for nobody). */
function addOrgCreatedByColumn(db: Database.Database): void {
  const cols = db.prepare("PRAGMA table_info(orgs)").all() as Array<{ name: string }>;
  if (!cols.some((c) => c.name === "created_by")) db.exec("ALTER TABLE orgs ADD COLUMN created_by TEXT");
  db.exec(ORGS_CREATED_BY_INDEX_SQL);
}

const SQLITE_TYPES = { bytes: "BLOB", time: "TEXT" } as const;

/**
 * A file made before the pipeline role has `CHECK (role IN ('admin', 'viewer'))`; SQLite cannot
 * alter a CHECK, so the table is rebuilt once, in one transaction (https://www.sqlite.org/lang_altertable.html#otheralter).
 */
function widenRoleCheck(db: Database.Database): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'org_api_keys'").get() as { sql: string } | undefined;
  if (!row || row.sql.includes("'pipeline'")) return;
  // Columns added later by ALTER TABLE (created_by) are carried over when the file has them.
  const cols = ["id", "org", "role", "label", "secret_hash", "created_at", "last_used_at", "revoked_at"];
  const later = (db.prepare("PRAGMA table_info(org_api_keys)").all() as Array<{ name: string }>).some((c) => c.name === "created_by") ? ["created_by"] : [];
  const list = [...cols, ...later].join(", ");
  db.transaction(() => {
    db.exec(`
      ${apiKeysTableSql("org_api_keys_new", SQLITE_TYPES, later)}
      INSERT INTO org_api_keys_new (${list}) SELECT ${list} FROM org_api_keys;
      DROP TABLE org_api_keys;
      ALTER TABLE org_api_keys_new RENAME TO org_api_keys;
      CREATE INDEX IF NOT EXISTS org_api_keys_org ON org_api_keys(org);
    `);
  })();
}
