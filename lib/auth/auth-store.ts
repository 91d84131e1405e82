import "server-only";
import crypto from "node:crypto";

/**
 * `pipeline` keys may call `POST /integrations/{org}/{provider}/access` and nothing else
 * (docs/security.md, "Pipeline access").
 */
export const API_KEY_ROLES = ["admin", "viewer", "pipeline"] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/**
 * The org_api_keys table as created today, for both stores (only the bytes and time types differ
 * by dialect); `extra`: TEXT columns added later by ALTER TABLE, kept when SQLite rebuilds it.
 */
export function apiKeysTableSql(name: string, types: { bytes: "BLOB" | "BYTEA"; time: "TEXT" | "TIMESTAMPTZ" }, extra: string[] = []): string {
  return `CREATE TABLE ${name} (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL REFERENCES orgs(slug) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'pipeline')),
    label TEXT,
    secret_hash ${types.bytes} NOT NULL,
    created_at ${types.time} NOT NULL,
    last_used_at ${types.time},
    revoked_at ${types.time}${extra.map((c) => `,\n    ${c} TEXT`).join("")}
  );`;
}

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
  /** The user id of the member who created it (web UI); null when made by the CLI. */
  createdBy: string | null;
}

/**
 * Who created an org (the account's user id; NULL for the CLI and for orgs made before it was
 * recorded), added to older databases by both stores on open; counted by createOrgLimited.
 */
export const ORGS_CREATED_BY_INDEX_SQL = "CREATE INDEX IF NOT EXISTS orgs_created_by ON orgs(created_by)";

/** A row of `orgs` as a driver returns it: `T` is its time type (a Date from pg, ISO text from SQLite). */
export interface OrgTableRow<T> {
  slug: string;
  name: string;
  external_id: string;
  created_at: T;
}

/** A row of `org_api_keys` as a driver returns it (times as in OrgTableRow). */
export interface ApiKeyTableRow<T> {
  id: string;
  org: string;
  role: ApiKeyRole;
  label: string | null;
  created_at: T;
  last_used_at: T | null;
  revoked_at: T | null;
  created_by: string | null;
}

/** The one row decoding for both stores; `time` turns the driver's time into ISO 8601 text. */
export function orgRecordFromRow<T>(r: OrgTableRow<T>, time: (t: T) => string): OrgRecord {
  return { slug: r.slug, name: r.name, externalId: r.external_id, createdAt: time(r.created_at) };
}

export function apiKeyRecordFromRow<T>(r: ApiKeyTableRow<T>, time: (t: T) => string): ApiKeyRecord {
  return {
    id: r.id,
    org: r.org,
    role: r.role,
    label: r.label,
    createdAt: time(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : time(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : time(r.revoked_at),
    createdBy: r.created_by,
  };
}

export interface VerifiedApiKey {
  org: string;
  role: ApiKeyRole;
  keyId: string;
}

/**
 * Organizations (slug, name, stable AWS external ID) and their API keys. Two implementations with
 * the same tables and semantics: SqliteAuthStore (DATA_DIR/auth.sqlite, the default) and
 * PostgresAuthStore (AUTH_DATABASE_URL, next to Better Auth's tables). createDeps picks one;
 * lib/auth/auth-store-contract.ts is the behaviour both must have.
 *
 * Keys are random 256-bit secrets, shown once and stored as SHA-256 hashes (a slow hash adds
 * nothing for secrets of that entropy). Timestamps are ISO 8601 strings with milliseconds.
 */
export interface AuthStore {
  readonly backend: "sqlite" | "postgres";
  getOrg(slug: string): Promise<OrgRecord | null>;
  /** Every org, by slug in byte order. */
  listOrgs(): Promise<OrgRecord[]>;
  /** Creates the org (with its stable random AWS external ID); null if the slug is taken. */
  createOrg(slug: string, name: string, now: Date): Promise<OrgRecord | null>;
  /**
   * Creates the org for an account, recording it as the creator, unless that account already has
   * `max` orgs it created (that still exist): "limit". "taken" when the slug is. The count and the
   * insert are one atomic step, so parallel calls by one account never pass `max` (SQLite: one
   * statement; Postgres: a transaction under a per-account advisory lock).
   */
  createOrgLimited(slug: string, name: string, now: Date, creator: { userId: string; max: number }): Promise<OrgRecord | "taken" | "limit">;
  /** Removes an org and (by cascade) its API keys; used to undo a half-made org. False if there was none. */
  deleteOrg(slug: string): Promise<boolean>;
  /** A new key for an existing org (rejects otherwise); `apiKey` is the only copy of the secret. */
  createApiKey(org: string, role: ApiKeyRole, label: string | null, now: Date, createdBy?: string | null): Promise<{ record: ApiKeyRecord; apiKey: string }>;
  getApiKey(org: string, id: string): Promise<ApiKeyRecord | null>;
  /** The org's keys, revoked ones included, oldest first. */
  listApiKeys(org: string): Promise<ApiKeyRecord[]>;
  /** Returns false when the key does not exist in that org or is already revoked. */
  revokeApiKey(org: string, id: string, now: Date): Promise<boolean>;
  /** Revokes every active key of the org created by this user (removed or demoted); returns their ids. */
  revokeApiKeysCreatedBy(org: string, userId: string, now: Date): Promise<string[]>;
  /** The key's org and role, or null for anything malformed, unknown, revoked or wrong. Records the use (at most once a minute). */
  verifyApiKey(raw: string, now: Date): Promise<VerifiedApiKey | null>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /** Releases what the store opened; later calls reject. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------ shared by both implementations

/** Org API keys look like `cmk_<12 hex id>_<43 base64url secret>`; only a hash of the secret is stored. */
const KEY_RE = /^cmk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The id and secret of a well-formed key, or null. */
export function parseApiKey(raw: string): { id: string; secret: string } | null {
  const m = KEY_RE.exec(raw);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export function hashSecret(secret: string): Buffer {
  return crypto.createHash("sha256").update(secret, "utf8").digest();
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const given = hashSecret(secret);
  return given.length === storedHash.length && crypto.timingSafeEqual(given, storedHash);
}

/** The stable AWS external ID of a new org (144 random bits). */
export function newExternalId(): string {
  return `cm-${crypto.randomBytes(18).toString("base64url")}`;
}

/** A new key: its id, the key as handed out (the only copy of the secret), and the hash to store. */
export function newApiKeyMaterial(): { id: string; apiKey: string; secretHash: Buffer } {
  const id = crypto.randomBytes(6).toString("hex");
  const secret = crypto.randomBytes(32).toString("base64url");
  return { id, apiKey: `cmk_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/**
 * Record last use at most once a minute: keeps reads from turning into a write each. True when
 * the stored time (ms since epoch, or null if never used) is more than a minute before `now`.
 */
export function lastUseIsStale(lastUsedMs: number | null, now: Date): boolean {
  return lastUsedMs === null || now.getTime() - lastUsedMs > 60_000;
}
