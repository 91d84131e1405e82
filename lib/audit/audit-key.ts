import "server-only";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { CipherError } from "../kms/cipher";
import { ensurePrivateDir, readPrivateFile, writePrivateFile } from "../kms/local";

export const AUDIT_KEY_FILE = "audit-hmac-key";
const MIN_KEY_BYTES = 32;

function decodeBase64(s: string): Buffer | null {
  const t = s.trim().replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (t.length === 0 || t.length % 4 === 1 || !/^[A-Za-z0-9+/]+$/.test(t)) return null;
  return Buffer.from(t, "base64");
}

/**
 * The audit chain's HMAC key, like the fingerprint pepper: AUDIT_HMAC_KEY (base64 of ≥ 32 bytes)
 * when set, else `<dataDir>/audit-hmac-key`, 32 random bytes created on first use (0600, no-clobber
 * so two processes starting together agree). Every instance writing one database must share it.
 * Errors never quote the key.
 */
export function loadOrCreateAuditKey(dataDir: string, override?: string): Buffer {
  if (override !== undefined && override.trim() !== "") {
    const buf = decodeBase64(override);
    if (!buf || buf.length < MIN_KEY_BYTES) {
      throw new CipherError("misconfigured", `AUDIT_HMAC_KEY must be base64 of at least ${MIN_KEY_BYTES} random bytes (e.g. \`openssl rand -base64 32\`).`);
    }
    return buf;
  }
  const dir = path.resolve(dataDir);
  const file = path.join(dir, AUDIT_KEY_FILE);
  let read = readPrivateFile(file, "audit key file");
  if (!read) {
    ensurePrivateDir(dir);
    try {
      writePrivateFile(file, `${randomBytes(MIN_KEY_BYTES).toString("base64")}\n`, { replace: false });
    } catch (e) {
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "error";
      throw new CipherError("misconfigured", `Cannot create the audit key file ${file} (${code}).`);
    }
    read = readPrivateFile(file, "audit key file");
    if (!read) throw new CipherError("misconfigured", `The audit key file ${file} could not be created.`);
  }
  const buf = decodeBase64(read.text);
  if (!buf || buf.length < MIN_KEY_BYTES) {
    throw new CipherError("misconfigured", `The audit key file ${file} is invalid: it must hold base64 of at least ${MIN_KEY_BYTES} bytes.`);
  }
  return buf;
}
