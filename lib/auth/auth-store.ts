import "server-only";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import Database from "better-sqlite3";

export type ApiKeyRole = "admin" | "viewer";

export interface OrgRecord {
  slug: string;
  name: string;
  externalId: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  org: string;
  role: ApiKeyRole;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Org API keys look like `cmk_<12 hex id>_<43 base64url secret>`; only a hash of the secret is stored. */
const KEY_RE = /^cmk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): Buffer {
  return crypto.createHash("sha256").update(secret, "utf8").digest();
}

/**
 * Organizations and their API keys (SQLite under DATA_DIR). Keys are random 256-bit secrets,
 * shown once and stored as SHA-256 hashes (a slow hash adds nothing for secrets of that entropy).
 */
export class AuthStore {
  private db: Database.Database;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    try {
      fs.chmodSync(file, 0o600);
    } catch {
      /* best effort on filesystems without modes */
    }
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS orgs (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        external_id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS org_api_keys (
        id TEXT PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(slug) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        label TEXT,
        secret_hash BLOB NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE INDEX IF NOT EXISTS org_api_keys_org ON org_api_keys(org);
    `);
  }

  getOrg(slug: string): OrgRecord | null {
    const r = this.db.prepare("SELECT slug, name, external_id, created_at FROM orgs WHERE slug = ?").get(slug) as
      | { slug: string; name: string; external_id: string; created_at: string }
      | undefined;
    return r ? { slug: r.slug, name: r.name, externalId: r.external_id, createdAt: r.created_at } : null;
  }

  listOrgs(): OrgRecord[] {
    const rows = this.db.prepare("SELECT slug, name, external_id, created_at FROM orgs ORDER BY slug").all() as Array<{
      slug: string;
      name: string;
      external_id: string;
      created_at: string;
    }>;
    return rows.map((r) => ({ slug: r.slug, name: r.name, externalId: r.external_id, createdAt: r.created_at }));
  }

  /** Creates the org (with its stable random AWS external ID); returns null if the slug is taken. */
  createOrg(slug: string, name: string, now: Date): OrgRecord | null {
    const externalId = `cm-${crypto.randomBytes(18).toString("base64url")}`;
    const res = this.db
      .prepare("INSERT OR IGNORE INTO orgs (slug, name, external_id, created_at) VALUES (?, ?, ?, ?)")
      .run(slug, name, externalId, now.toISOString());
    return res.changes === 1 ? this.getOrg(slug) : null;
  }

  /** Removes an org and (by cascade) its API keys; used to undo a half-made org. */
  deleteOrg(slug: string): boolean {
    return this.db.prepare("DELETE FROM orgs WHERE slug = ?").run(slug).changes === 1;
  }

  createApiKey(org: string, role: ApiKeyRole, label: string | null, now: Date): { record: ApiKeyRecord; apiKey: string } {
    const id = crypto.randomBytes(6).toString("hex");
    const secret = crypto.randomBytes(32).toString("base64url");
    this.db
      .prepare("INSERT INTO org_api_keys (id, org, role, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(id, org, role, label, hashSecret(secret), now.toISOString());
    return { record: this.getApiKey(org, id)!, apiKey: `cmk_${id}_${secret}` };
  }

  getApiKey(org: string, id: string): ApiKeyRecord | null {
    const r = this.db
      .prepare("SELECT id, org, role, label, created_at, last_used_at, revoked_at FROM org_api_keys WHERE org = ? AND id = ?")
      .get(org, id) as KeyRow | undefined;
    return r ? toKeyRecord(r) : null;
  }

  listApiKeys(org: string): ApiKeyRecord[] {
    const rows = this.db
      .prepare("SELECT id, org, role, label, created_at, last_used_at, revoked_at FROM org_api_keys WHERE org = ? ORDER BY created_at, id")
      .all(org) as KeyRow[];
    return rows.map(toKeyRecord);
  }

  /** Returns false when the key does not exist in that org or is already revoked. */
  revokeApiKey(org: string, id: string, now: Date): boolean {
    const res = this.db
      .prepare("UPDATE org_api_keys SET revoked_at = ? WHERE org = ? AND id = ? AND revoked_at IS NULL")
      .run(now.toISOString(), org, id);
    return res.changes === 1;
  }

  /** The key's org and role, or null for anything malformed, unknown, revoked or wrong. */
  verifyApiKey(raw: string, now: Date): { org: string; role: ApiKeyRole; keyId: string } | null {
    const m = KEY_RE.exec(raw);
    if (!m) return null;
    const [, id, secret] = m as unknown as [string, string, string];
    const r = this.db.prepare("SELECT org, role, secret_hash, revoked_at, last_used_at FROM org_api_keys WHERE id = ?").get(id) as
      | { org: string; role: ApiKeyRole; secret_hash: Buffer; revoked_at: string | null; last_used_at: string | null }
      | undefined;
    if (!r || r.revoked_at) return null;
    const given = hashSecret(secret);
    if (given.length !== r.secret_hash.length || !crypto.timingSafeEqual(given, r.secret_hash)) return null;
    // Record last use at most once a minute: keeps reads from turning into a write each.
    if (!r.last_used_at || now.getTime() - Date.parse(r.last_used_at) > 60_000) {
      this.db.prepare("UPDATE org_api_keys SET last_used_at = ? WHERE id = ?").run(now.toISOString(), id);
    }
    return { org: r.org, role: r.role, keyId: id };
  }

  ping(): void {
    this.db.prepare("SELECT 1").get();
  }

  close(): void {
    this.db.close();
  }
}

interface KeyRow {
  id: string;
  org: string;
  role: ApiKeyRole;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function toKeyRecord(r: KeyRow): ApiKeyRecord {
  return {
    id: r.id,
    org: r.org,
    role: r.role,
    label: r.label,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
