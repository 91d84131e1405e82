/**
 * The baseline of `npm run bench` (http.bench.ts): a bare `node:http` server that does the same
 * work as the app's list and setup routes, on the same DATA_DIR files, with nothing else:
 *
 *   GET  /integrations/{org}                  API key (auth.sqlite) → org → the list's columns → JSON
 *   POST /integrations/{org}/{provider}/setup API key → org → JSON body → fingerprint → AES-256-GCM
 *                                             (the same local key ring) → upsert in one transaction
 *   GET  /healthz                             {"status":"ok"}
 *
 * Statements are prepared once; no framework, no validation library, no logging. It writes only
 * rows whose provider starts with saas_bare (the bench's own). Durability: SQLite's defaults, which
 * for these files (already in WAL mode when it opens them) are WAL with synchronous=NORMAL, as
 * better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (its deps/defines.gypi): a commit
 * writes the WAL without an fsync, checkpoints sync. The app's credential store sets the same
 * (lib/storage/sqlite.ts). Run with
 * `tsx --conditions=react-server tests/bench/bare-server.ts <dataDir> <port>`.
 */
import crypto from "node:crypto";
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import { parseApiKey, secretMatches } from "../../lib/auth/auth-store";
import { canonicalize, fingerprintOf, loadOrCreatePepper } from "../../lib/kms/fingerprint";
import { LocalKeyRingCipher } from "../../lib/kms/local";

const [dataDir, portArg] = process.argv.slice(2);
if (!dataDir || !portArg) throw new Error("usage: bare-server.ts <dataDir> <port>");

const auth = new Database(path.join(dataDir, "auth.sqlite"));
const creds = new Database(path.join(dataDir, "credentials.sqlite"));
for (const db of [auth, creds]) {
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
}
const keyStmt = auth.prepare("SELECT org, role, secret_hash, revoked_at FROM org_api_keys WHERE id = ?");
const orgStmt = auth.prepare("SELECT slug, name, external_id FROM orgs WHERE slug = ?");
const listStmt = creds.prepare(
  "SELECT provider, status, fingerprint, key_kind, metadata, account, version, created_at, updated_at, last_validated_at, last_error FROM org_integration_credentials WHERE org = ? ORDER BY provider",
);
const getStmt = creds.prepare("SELECT version, created_at FROM org_integration_credentials WHERE org = ? AND provider = ?");
const upsertStmt = creds.prepare(
  `INSERT INTO org_integration_credentials (org, provider, credential_id, ciphertext, key_ref, key_version, fingerprint, status, key_kind, metadata, account, version, created_at, updated_at, last_validated_at, last_error)
   VALUES (@org, @provider, @credential_id, @ciphertext, @key_ref, @key_version, @fingerprint, 'active', NULL, @metadata, NULL, 1, @now, @now, NULL, NULL)
   ON CONFLICT (org, provider) DO UPDATE SET credential_id = excluded.credential_id, ciphertext = excluded.ciphertext, key_ref = excluded.key_ref,
     key_version = excluded.key_version, fingerprint = excluded.fingerprint, metadata = excluded.metadata, version = version + 1, updated_at = excluded.updated_at`,
);
const cipher = new LocalKeyRingCipher({ dataDir, createIfMissing: false });
const pepper = loadOrCreatePepper(dataDir, process.env.FINGERPRINT_PEPPER);

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function authorize(req: http.IncomingMessage, org: string): boolean {
  const raw = req.headers["x-api-key"];
  const key = typeof raw === "string" ? parseApiKey(raw) : null;
  if (!key) return false;
  const row = keyStmt.get(key.id) as { org: string; secret_hash: Buffer; revoked_at: string | null } | undefined;
  return Boolean(row && !row.revoked_at && row.org === org && secretMatches(key.secret, row.secret_hash) && orgStmt.get(org));
}

type Row = Record<string, unknown> & { metadata: string; account: string | null; last_error: string | null };

function list(org: string) {
  const rows = listStmt.all(org) as Row[];
  return {
    org,
    integrations: rows.map((r) => ({
      ...r,
      metadata: JSON.parse(r.metadata),
      account: r.account === null ? null : JSON.parse(r.account),
      last_error: r.last_error === null ? null : JSON.parse(r.last_error),
    })),
  };
}

async function setup(org: string, provider: string, body: string) {
  const input = JSON.parse(body) as { credential?: Record<string, unknown>; metadata?: Record<string, unknown> };
  const credential = input.credential ?? {};
  if (typeof credential.display_name !== "string" || !credential.display_name) throw new Error("display_name");
  const credentialId = crypto.randomUUID();
  const fingerprint = fingerprintOf(canonicalize(credential), pepper);
  const enc = await cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org, provider, credentialId });
  const now = new Date().toISOString();
  creds.transaction(() => {
    getStmt.get(org, provider);
    upsertStmt.run({
      org,
      provider,
      credential_id: credentialId,
      ciphertext: enc.ciphertext,
      key_ref: enc.keyRef,
      key_version: enc.keyVersion,
      fingerprint,
      metadata: JSON.stringify(input.metadata ?? {}),
      now,
    });
  })();
  return { provider, fingerprint, status: "active" };
}

const server = http.createServer((req, res) => {
  const url = req.url ?? "/";
  if (url === "/healthz") return send(res, 200, { status: "ok" });
  const m = /^\/integrations\/([a-z0-9_-]+)(?:\/(saas_bare[a-z0-9-]*)\/setup)?$/.exec(url);
  if (!m) return send(res, 404, { error: { code: "not_found" } });
  const [, org, provider] = m as unknown as [string, string, string | undefined];
  if (!authorize(req, org)) return send(res, 401, { error: { code: "unauthenticated" } });
  if (!provider && req.method === "GET") return send(res, 200, list(org));
  if (provider && req.method === "POST") {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      setup(org, provider, Buffer.concat(chunks).toString("utf8")).then(
        (r) => send(res, 200, r),
        () => send(res, 400, { error: { code: "invalid_request" } }),
      );
    });
    return;
  }
  send(res, 405, { error: { code: "method_not_allowed" } });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(portArg), "127.0.0.1", () => process.stdout.write("ready\n"));
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
