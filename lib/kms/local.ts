import "server-only";

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { buildAad, CipherError, type AadContext, type Cipher, type DecryptResult, type EncryptResult } from "./cipher";

/**
 * The `local` Cipher backend: AES-256-GCM under a versioned key ring kept in `<dataDir>/keyring.json`.
 *
 * Blob layout (all lengths in bytes):
 *
 *   | 0x01 | L | keyId (L ascii, 1..32) | nonce (12) | ciphertext (n) | tag (16) |
 *
 * The GCM AAD is `header || buildAad(ctx)`, where header = `0x01 | L | keyId`: the key id is
 * authenticated too, so a blob cannot be relabelled to another key version, and the row context
 * binds it to its org, provider and credential id.
 *
 * The newest key (the "primary") encrypts; every key in the ring decrypts. `addKeyVersion` adds a
 * new primary, `retireKeyVersion` drops an old one (blobs under it then fail closed).
 */

export const KEYRING_FILE = "keyring.json";
/** Path-independent: the ring moves with DATA_DIR, so the stored reference must not name a path. */
export const LOCAL_KEY_REF = "local:keyring";

const BLOB_FORMAT_VERSION = 0x01;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_ID_BYTES = 32;
/** Key ids are short printable ascii so the header is unambiguous and safe to quote in messages. */
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,32}$/;
const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 60_000;

const DECRYPT_FAILED_MESSAGE =
  "The stored credential could not be decrypted (tampered, moved to another row, or its key version is gone).";

// ---------------------------------------------------------------------------------------------
// Key ring file format
// ---------------------------------------------------------------------------------------------

const keyIdSchema = z.string().regex(KEY_ID_RE, "must be 1-32 characters of A-Z a-z 0-9 . _ -");
// Custom messages only: the file holds key material, and an error must never quote it.
const keyMaterialSchema = z
  .string()
  .refine((s) => decodeKey(s) !== null, "must be the base64 encoding of exactly 32 bytes");

const keyRingFileSchema = z
  .object({
    version: z.literal(1),
    primary: keyIdSchema,
    keys: z
      .array(
        z.object({
          id: keyIdSchema,
          key: keyMaterialSchema,
          created_at: z.iso.datetime({ offset: true }),
        }),
      )
      .min(1, "must list at least one key"),
  })
  .superRefine((ring, ctx) => {
    const seen = new Set<string>();
    ring.keys.forEach((k, i) => {
      if (seen.has(k.id)) ctx.addIssue({ code: "custom", path: ["keys", i, "id"], message: `duplicate key id "${k.id}"` });
      seen.add(k.id);
    });
    if (!seen.has(ring.primary)) {
      ctx.addIssue({ code: "custom", path: ["primary"], message: `"${ring.primary}" is not one of the listed keys` });
    }
  });

export type KeyRingFile = z.infer<typeof keyRingFileSchema>;

/** A parsed key ring. Key bytes live only here; never log or serialize this object. */
interface LoadedKeyRing {
  primary: string;
  keys: Map<string, Buffer>;
  file: KeyRingFile;
}

function misconfigured(message: string): CipherError {
  return new CipherError("misconfigured", message);
}

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Strict base64 of exactly 32 bytes (Buffer.from(…, "base64") alone silently skips junk). */
function decodeKey(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) return null;
  const buf = Buffer.from(s, "base64");
  return buf.length === KEY_BYTES && buf.toString("base64") === s ? buf : null;
}

function parseKeyRing(text: string, file: string): LoadedKeyRing {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Fixed text, no cause: a JSON.parse message quotes the start of the input, i.e. key material.
    throw misconfigured(`The key ring ${file} is not valid JSON.`);
  }
  const parsed = keyRingFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; ");
    throw misconfigured(`The key ring ${file} is invalid: ${problems}.`);
  }
  const keys = new Map<string, Buffer>();
  for (const k of parsed.data.keys) keys.set(k.id, decodeKey(k.key) as Buffer);
  return { primary: parsed.data.primary, keys, file: parsed.data };
}

function formatPath(p: PropertyKey[]): string {
  if (p.length === 0) return "(root)";
  return p.map((s, i) => (typeof s === "number" ? `[${s}]` : `${i === 0 ? "" : "."}${String(s)}`)).join("");
}

function serializeKeyRing(ring: KeyRingFile): string {
  return `${JSON.stringify(ring, null, 2)}\n`;
}

function newKeyEntry(id: string): KeyRingFile["keys"][number] {
  return { id, key: randomBytes(KEY_BYTES).toString("base64"), created_at: new Date().toISOString() };
}

/** k1, k2, …: one more than the highest numbered id, so a retired id is never handed out again. */
function nextKeyId(ring: KeyRingFile): string {
  let max = 0;
  for (const k of ring.keys) {
    const m = /^k(\d+)$/.exec(k.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `k${max + 1}`;
}

// ---------------------------------------------------------------------------------------------
// Private files (shared with fingerprint.ts): dir 0700, files 0600, never world-readable
// ---------------------------------------------------------------------------------------------

/** Create `dir` (and parents) with mode 0700 if missing. An existing directory is left as is. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw misconfigured(`Cannot create the data directory ${dir} (${errCode(e) ?? "error"}).`);
  }
}

/**
 * Write `content` to `target` with mode 0600 without a moment where it is readable by others or
 * half-written: the bytes go to a fresh temp file (O_EXCL, 0600) in the same directory first.
 *  - replace: rename over the target (atomic replace).
 *  - otherwise: hard-link into place, which fails with EEXIST instead of clobbering a file another
 *    process created first (two processes creating a key ring at once must not each keep a key).
 * Returns false when `replace` is off and the target already existed.
 */
export function writePrivateFile(target: string, content: string, opts: { replace: boolean }): boolean {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // the umask can only remove bits, but be explicit
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);

  let created = true;
  try {
    if (opts.replace) {
      fs.renameSync(tmp, target);
    } else {
      try {
        fs.linkSync(tmp, target);
      } catch (e) {
        if (errCode(e) === "EEXIST") created = false;
        // Filesystems without hard links: an exclusive copy still never clobbers.
        else fs.copyFileSync(tmp, target, fs.constants.COPYFILE_EXCL);
      }
    }
  } catch (e) {
    if (errCode(e) === "EEXIST") created = false;
    else {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
  if (!opts.replace) fs.rmSync(tmp, { force: true });
  fsyncDir(dir);
  return created;
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Best effort: not every platform can fsync a directory.
  }
}

export interface PrivateFileRead {
  text: string;
  /** Changes whenever the file is replaced, rewritten or re-permissioned. */
  stamp: string;
}

function statStamp(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}`;
}

/**
 * Read a secret file; null when it does not exist. Permissions looser than 0600 (any group/other
 * bit, or owner execute) are tightened first; if that is impossible the read fails closed.
 */
export function readPrivateFile(file: string, what: string): PrivateFileRead | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    if (errCode(e) === "ENOENT") return null;
    throw misconfigured(`Cannot read the ${what} ${file} (${errCode(e) ?? "error"}).`);
  }
  try {
    // fstat on the open descriptor: the stamp and the bytes come from the same file even if it is
    // replaced concurrently.
    let st = fs.fstatSync(fd);
    if (!st.isFile()) throw misconfigured(`The ${what} ${file} is not a regular file.`);
    if ((st.mode & 0o177) !== 0) {
      try {
        fs.fchmodSync(fd, st.mode & 0o600);
      } catch (e) {
        throw misconfigured(
          `The ${what} ${file} is readable by other users and could not be restricted to 0600 (${errCode(e) ?? "error"}); fix its permissions.`,
        );
      }
      st = fs.fstatSync(fd);
    }
    const text = fs.readFileSync(fd, "utf8");
    return { text, stamp: statStamp(st) };
  } catch (e) {
    if (e instanceof CipherError) throw e;
    throw misconfigured(`Cannot read the ${what} ${file} (${errCode(e) ?? "error"}).`);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Key ring load / create / mutate
// ---------------------------------------------------------------------------------------------

function keyRingPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), KEYRING_FILE);
}

function loadKeyRing(file: string): { ring: LoadedKeyRing; stamp: string } | null {
  const read = readPrivateFile(file, "key ring");
  if (!read) return null;
  return { ring: parseKeyRing(read.text, file), stamp: read.stamp };
}

/** Create a key ring with one fresh key, unless one appeared meanwhile (then that one wins). */
function createKeyRingIfAbsent(dataDir: string): void {
  const dir = path.resolve(dataDir);
  ensurePrivateDir(dir);
  const ring: KeyRingFile = { version: 1, primary: "k1", keys: [newKeyEntry("k1")] };
  try {
    writePrivateFile(path.join(dir, KEYRING_FILE), serializeKeyRing(ring), { replace: false });
  } catch (e) {
    if (e instanceof CipherError) throw e;
    throw misconfigured(`Cannot create the key ring in ${dir} (${errCode(e) ?? "error"}).`);
  }
}

/**
 * Serialize key ring changes across processes (`kms rotate` vs a running server creating the ring)
 * with an O_EXCL lock file. A lock older than a minute is from a crashed run and is broken.
 */
async function withKeyRingLock<T>(dataDir: string, fn: () => T): Promise<T> {
  const lock = path.join(path.resolve(dataDir), `${KEYRING_FILE}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(lock, "wx", 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw misconfigured(`Cannot lock the key ring (${errCode(e) ?? "error"}).`);
    }
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { force: true });
    } catch {
      // The holder released it between our attempts; just retry.
    }
    if (Date.now() > deadline) {
      throw new CipherError(
        "unavailable",
        `The key ring is locked by another process (${lock}); retry, or remove the lock file if no other kms command is running.`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Bumped by every key ring change made through this module, so ciphers in this process see the
 * change at once without a stat (another process's change is seen within `recheckMs`).
 */
let ringGeneration = 0;

function replaceKeyRing(dataDir: string, ring: KeyRingFile): void {
  ringGeneration++;
  try {
    writePrivateFile(keyRingPath(dataDir), serializeKeyRing(ring), { replace: true });
  } catch (e) {
    throw misconfigured(`Cannot write the key ring in ${path.resolve(dataDir)} (${errCode(e) ?? "error"}).`);
  }
}

/**
 * Add a fresh key and make it the primary (new encryptions use it; older keys keep decrypting).
 * Creates the key ring first if there is none. Returns the new key id.
 */
export async function addKeyVersion(dataDir: string): Promise<string> {
  ensurePrivateDir(path.resolve(dataDir));
  return withKeyRingLock(dataDir, () => {
    const file = keyRingPath(dataDir);
    let loaded = loadKeyRing(file);
    if (!loaded) {
      createKeyRingIfAbsent(dataDir);
      loaded = loadKeyRing(file);
      if (!loaded) throw misconfigured(`The key ring ${file} could not be created.`);
    }
    const current = loaded.ring.file;
    const id = nextKeyId(current);
    replaceKeyRing(dataDir, { ...current, primary: id, keys: [...current.keys, newKeyEntry(id)] });
    return id;
  });
}

/**
 * Remove a non-primary key. Blobs encrypted under it stop decrypting, so re-encrypt them first
 * (`kms rotate`). Refuses to remove the primary key or a key that is not in the ring.
 */
export async function retireKeyVersion(dataDir: string, keyId: string): Promise<void> {
  await withKeyRingLock(dataDir, () => {
    const file = keyRingPath(dataDir);
    const loaded = loadKeyRing(file);
    if (!loaded) throw misconfigured(`There is no key ring at ${file}.`);
    const current = loaded.ring.file;
    if (keyId === current.primary) {
      throw misconfigured(`Key version "${current.primary}" is the primary key and cannot be retired; add a new key version first.`);
    }
    if (!current.keys.some((k) => k.id === keyId)) {
      throw misconfigured(`Key version ${JSON.stringify(keyId)} is not in the key ring.`);
    }
    replaceKeyRing(dataDir, { ...current, keys: current.keys.filter((k) => k.id !== keyId) });
  });
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM primitives
// ---------------------------------------------------------------------------------------------

/** AES-256-GCM seal with a 16-byte tag. Exported for known-answer tests. */
export function gcmSeal(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
  if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES) throw new TypeError("gcmSeal: bad key or nonce length");
  const c = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext, tag: c.getAuthTag() };
}

/**
 * AES-256-GCM open. Any failure (lengths, tag mismatch) is a `decrypt_failed` CipherError with a
 * fixed message and no cause. Exported for known-answer tests.
 */
export function gcmOpen(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  // The tag must be exactly 16 bytes. Node's decipher otherwise accepts any tag length GCM allows
  // (4..16) and verifies only that prefix: a 4-byte tag would be forgeable. `authTagLength: 16`
  // below makes setAuthTag reject short tags too; the explicit check keeps it obvious.
  if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) {
    throw new CipherError("decrypt_failed", DECRYPT_FAILED_MESSAGE);
  }
  let out: Buffer | undefined;
  try {
    const d = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    d.setAAD(aad);
    d.setAuthTag(tag);
    out = d.update(ciphertext);
    d.final(); // throws on tag mismatch; GCM emits no further bytes here
    return out;
  } catch {
    out?.fill(0); // unauthenticated plaintext: do not leave it around
    throw new CipherError("decrypt_failed", DECRYPT_FAILED_MESSAGE);
  }
}

function encodeHeader(keyId: string): Buffer {
  const id = Buffer.from(keyId, "ascii");
  if (!KEY_ID_RE.test(keyId) || id.length > MAX_KEY_ID_BYTES) throw misconfigured(`Invalid key id "${keyId}".`);
  return Buffer.concat([Buffer.from([BLOB_FORMAT_VERSION, id.length]), id]);
}

interface ParsedBlob {
  header: Buffer;
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseBlob(blob: Buffer): ParsedBlob {
  const fail = (why: string) => new CipherError("decrypt_failed", `The stored credential could not be decrypted (${why}).`);
  if (!Buffer.isBuffer(blob) || blob.length < 2) throw fail("not a local key ring blob");
  if (blob[0] !== BLOB_FORMAT_VERSION) throw fail("unknown blob format version");
  const idLen = blob[1] as number;
  if (idLen < 1 || idLen > MAX_KEY_ID_BYTES) throw fail("bad key id length");
  const headerLen = 2 + idLen;
  if (blob.length < headerLen + NONCE_BYTES + TAG_BYTES) throw fail("blob is truncated");
  const keyId = blob.subarray(2, headerLen).toString("latin1");
  if (!KEY_ID_RE.test(keyId)) throw fail("bad key id");
  return {
    header: blob.subarray(0, headerLen),
    keyId,
    nonce: blob.subarray(headerLen, headerLen + NONCE_BYTES),
    ciphertext: blob.subarray(headerLen + NONCE_BYTES, blob.length - TAG_BYTES),
    tag: blob.subarray(blob.length - TAG_BYTES),
  };
}

// ---------------------------------------------------------------------------------------------
// The Cipher
// ---------------------------------------------------------------------------------------------

export interface LocalKeyRingCipherOptions {
  dataDir: string;
  /**
   * Create `<dataDir>/keyring.json` with a fresh key when it is missing (default true). Pass false
   * where a missing key ring means lost configuration rather than a first run (e.g. production):
   * a silently generated key would make every stored credential undecryptable.
   */
  createIfMissing?: boolean;
  /**
   * How long encrypt trusts the key ring in memory before checking the file again (one stat), in
   * ms; default 1000, so setup never stats per call. A watch on DATA_DIR makes encrypt see a
   * changed file at once where the platform supports it. `decrypt()`, `ping()` and
   * `primaryKeyVersion()` always check, so a key added or retired by the kms CLI in another process
   * is seen at once there. Without a watch, encrypting for up to
   * this long under the previous primary is harmless: it still decrypts, and `kms retire` refuses
   * a key version that rows still use.
   */
  recheckMs?: number;
}

export class LocalKeyRingCipher implements Cipher {
  readonly backend = "local" as const;
  readonly #dataDir: string;
  readonly #file: string;
  readonly #createIfMissing: boolean;
  readonly #recheckMs: number;
  // Private fields: util.inspect / JSON.stringify of the cipher never show key bytes.
  #cached: { ring: LoadedKeyRing; stamp: string } | null = null;
  /** performance.now() of the last check of the file against #cached. */
  #checkedAt = 0;
  #generation = -1;
  #watcher: fs.FSWatcher | null | undefined = undefined;

  constructor(opts: LocalKeyRingCipherOptions) {
    if (!opts.dataDir) throw misconfigured("The local cipher needs a data directory (DATA_DIR).");
    this.#dataDir = path.resolve(opts.dataDir);
    this.#file = path.join(this.#dataDir, KEYRING_FILE);
    this.#createIfMissing = opts.createIfMissing ?? true;
    this.#recheckMs = opts.recheckMs ?? 1000;
  }

  /**
   * Watch DATA_DIR (the directory: a ring replaced by rename is a new file) so a change by another
   * process, or by hand, is seen at once without a stat per call. Best effort: where watching is
   * not supported the `recheckMs` check still applies. Never keeps the process alive.
   */
  #watch(): void {
    if (this.#watcher !== undefined) return;
    this.#watcher = null;
    try {
      const w = fs.watch(this.#dataDir, { persistent: false }, (_event, name) => {
        if (!name || String(name) === KEYRING_FILE) this.#checkedAt = -Infinity;
      });
      w.on("error", () => {
        w.close();
        this.#checkedAt = -Infinity;
      });
      this.#watcher = w;
    } catch {
      // No watching here (unsupported filesystem, watch limit): rely on recheckMs.
    }
  }

  /**
   * The key ring, from memory unless the file changed (a `kms rotate` in another process replaces
   * it: new inode, size or mtime). At most one stat per `recheckMs` unless `force`; the file is
   * read only when it changed.
   */
  #ring(force = false): LoadedKeyRing {
    const now = performance.now();
    if (this.#cached && !force && this.#generation === ringGeneration && now - this.#checkedAt < this.#recheckMs) {
      return this.#cached.ring;
    }
    this.#checkedAt = now;
    this.#generation = ringGeneration;
    if (this.#cached) {
      let stamp: string | null = null;
      try {
        stamp = statStamp(fs.statSync(this.#file));
      } catch {
        // Gone or unreadable: fall through to a full load, which reports it.
      }
      if (stamp === this.#cached.stamp) return this.#cached.ring;
    }
    let loaded = loadKeyRing(this.#file);
    if (!loaded) {
      if (this.#cached) {
        // Never regenerate a ring that existed: that would orphan every stored credential.
        throw misconfigured(`The key ring ${this.#file} was removed while in use; restore it from a backup.`);
      }
      if (!this.#createIfMissing) {
        throw misconfigured(`There is no key ring at ${this.#file}; restore it, or create one with the kms CLI.`);
      }
      createKeyRingIfAbsent(this.#dataDir);
      loaded = loadKeyRing(this.#file);
      if (!loaded) throw misconfigured(`The key ring ${this.#file} could not be created.`);
    }
    this.#cached = loaded;
    this.#watch();
    return loaded.ring;
  }

  async encrypt(plaintext: Buffer, ctx: AadContext): Promise<EncryptResult> {
    if (!Buffer.isBuffer(plaintext)) throw new TypeError("encrypt: plaintext must be a Buffer");
    const ring = this.#ring();
    const keyId = ring.primary;
    const key = ring.keys.get(keyId) as Buffer; // the schema guarantees the primary is listed
    const header = encodeHeader(keyId);
    const nonce = randomBytes(NONCE_BYTES); // 96-bit random nonce: fine for far below 2^32 messages per key
    const { ciphertext, tag } = gcmSeal(key, nonce, Buffer.concat([header, buildAad(ctx)]), plaintext);
    return { ciphertext: Buffer.concat([header, nonce, ciphertext, tag]), keyRef: LOCAL_KEY_REF, keyVersion: keyId };
  }

  async decrypt(blob: Buffer, ctx: AadContext): Promise<DecryptResult> {
    const parsed = parseBlob(blob);
    // Always checked against the file (one stat): a key version retired by `kms retire` in another
    // process must stop decrypting at once. Pipelines decrypt through the getCredential cache, so
    // this is not the hot path; encrypt (every setup) is.
    const ring = this.#ring(true);
    const key = ring.keys.get(parsed.keyId);
    if (!key) {
      throw new CipherError(
        "decrypt_failed",
        `The stored credential's key version "${parsed.keyId}" is not in the local key ring (retired, or the blob comes from another key ring).`,
      );
    }
    const plaintext = gcmOpen(key, parsed.nonce, Buffer.concat([parsed.header, buildAad(ctx)]), parsed.ciphertext, parsed.tag);
    return { plaintext, keyVersion: parsed.keyId, usedPrimary: parsed.keyId === ring.primary };
  }

  async primaryKeyVersion(): Promise<string> {
    return this.#ring(true).primary;
  }

  async ping(): Promise<void> {
    this.#ring(true);
  }
}
