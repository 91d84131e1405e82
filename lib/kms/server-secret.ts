import "server-only";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { CipherError } from "./cipher";
import { ensurePrivateDir, readPrivateFile, writePrivateFile } from "./local";

/** Base64 (standard or url-safe, padding optional); null when malformed. */
function decodeBase64(s: string): Buffer | null {
  const t = s.trim().replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (t.length === 0 || t.length % 4 === 1 || !/^[A-Za-z0-9+/]+$/.test(t)) return null;
  return Buffer.from(t, "base64");
}

export interface ServerSecretSpec {
  /** What the secret is, for messages: "fingerprint pepper", "audit key". */
  what: string;
  /** The setting that overrides the file, for messages: "FINGERPRINT_PEPPER". */
  setting: string;
  /** The file's name inside the data directory. */
  file: string;
  /** Random bytes written when the file is created. */
  createBytes: number;
  /** The shortest secret accepted, from the setting or the file. */
  minBytes: number;
}

/**
 * A server-side secret (the fingerprint pepper, the audit chain's HMAC key):
 *  - `override` (the setting, passed in by the caller): base64 of ≥ `minBytes` bytes. An empty
 *    string counts as not set, matching how env.ts treats empty variables.
 *  - otherwise `<dataDir>/<file>`: `createBytes` random bytes in base64, created on first use with
 *    mode 0600 (dir 0700), no-clobber so two processes starting together agree, and reused after
 *    that; looser permissions are tightened on load (lib/kms/local.ts).
 * Errors are CipherError("misconfigured") and never quote the secret.
 */
export function loadOrCreateServerSecret(spec: ServerSecretSpec, dataDir: string, override?: string): Buffer {
  const { what, setting, minBytes } = spec;
  if (override !== undefined && override.trim() !== "") {
    const buf = decodeBase64(override);
    if (!buf || buf.length < minBytes) {
      throw new CipherError("misconfigured", `${setting} must be base64 of at least ${minBytes} random bytes (e.g. \`openssl rand -base64 32\`).`);
    }
    return buf;
  }
  const dir = path.resolve(dataDir);
  const file = path.join(dir, spec.file);
  let read = readPrivateFile(file, `${what} file`);
  if (!read) {
    ensurePrivateDir(dir);
    try {
      // No-clobber: if another process created it first, its secret wins and we read that below.
      writePrivateFile(file, `${randomBytes(spec.createBytes).toString("base64")}\n`, { replace: false });
    } catch (e) {
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "error";
      throw new CipherError("misconfigured", `Cannot create the ${what} file ${file} (${code}).`);
    }
    read = readPrivateFile(file, `${what} file`);
    if (!read) throw new CipherError("misconfigured", `The ${what} file ${file} could not be created.`);
  }
  const buf = decodeBase64(read.text);
  if (!buf || buf.length < minBytes) {
    throw new CipherError("misconfigured", `The ${what} file ${file} is invalid: it must hold base64 of at least ${minBytes} bytes.`);
  }
  return buf;
}
