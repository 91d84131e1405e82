import "server-only";

import crypto from "node:crypto";

/**
 * Opening a PEM private key that a tenant uploaded, within bounds, so that no single request can
 * hold the event loop (docs/security.md, "Stalls").
 *
 * An encrypted PEM carries its own key-derivation parameters, and node:crypto honours them
 * synchronously: a PBKDF2 iteration count of 2^31 or scrypt N = 2^20 takes minutes. So before
 * decrypting, the encryption header is parsed and its parameters are checked against caps that are
 * far above what real tools write, yet cost at most tens of milliseconds:
 *
 * - PKCS#8 `ENCRYPTED PRIVATE KEY` (RFC 5958 §3 EncryptedPrivateKeyInfo):
 *   - PBES2 (RFC 8018 §6.2, OID 1.2.840.113549.1.5.13) with PBKDF2 (RFC 8018 §5.2, A.2;
 *     OID 1.2.840.113549.1.5.12): iterationCount ≤ MAX_PBKDF2_ITERATIONS. OpenSSL 3 writes 2048
 *     (https://docs.openssl.org/3.0/man1/openssl-pkcs8/ "-iter"), Python `cryptography` and Java
 *     similar or lower;
 *   - PBES2 with scrypt (RFC 7914 §7, OID 1.3.6.1.4.1.11591.4.11): N·r·p ≤ MAX_SCRYPT_COST
 *     (OpenSSL's default N=16384, r=8, p=1 is exactly the cap);
 *   - PBES1 (RFC 8018 §6.1, A.3) and PKCS#12 PBE (RFC 7292 Appendix C, OID 1.2.840.113549.1.12.1.*):
 *     iterationCount ≤ MAX_PBKDF2_ITERATIONS;
 *   - anything else is refused (it cannot be checked).
 * - Legacy OpenSSL PEM (`Proc-Type: 4,ENCRYPTED` + `DEK-Info: <cipher>,<iv hex>`, RFC 1421 §4.6):
 *   the key is derived with EVP_BytesToKey, MD5, one iteration (fixed cost); only the header's
 *   form is checked.
 *
 * After opening, RSA keys must be within [minBits, maxBits] (signing cost grows with the cube of
 * the modulus size: a 16384-bit key takes over a second per signature) and have a public exponent
 * of at most 32 bits (OpenSSL's blinding raises to e on every private operation).
 *
 * Measured on the CI machine (2 cores, Node 20): PBKDF2-HMAC-SHA256 at 100,000 iterations 17 ms
 * (SHA-1: 38 ms); scrypt N=16384 r=8 p=1 42 ms; a 4096-bit RSA signature ~5 ms.
 *
 * Errors are PrivateKeyError naming the field at fault ("private_key" or "passphrase") with a reason
 * for a person; they never include node's or OpenSSL's text (which may quote the input).
 */

export const MAX_PBKDF2_ITERATIONS = 100_000;
export const MAX_SCRYPT_COST = 16_384 * 8; // N·r·p
export const MAX_RSA_EXPONENT_BITS = 32;

export class PrivateKeyError extends Error {
  constructor(
    readonly field: "private_key" | "passphrase",
    readonly reason: string,
  ) {
    super(`${field} ${reason}`);
    this.name = "PrivateKeyError";
  }
}

export const PRIVATE_KEY_MESSAGES = {
  unreadable: "could not be read as a PEM private key: paste the whole file, including the BEGIN and END lines",
  passphraseMissing: "is required: the private key is encrypted",
  passphraseWrong: "does not decrypt the private key",
  iterations: `is encrypted with a key-derivation iteration count above ${MAX_PBKDF2_ITERATIONS.toLocaleString("en-US")}; re-encrypt it with default settings (e.g. \`openssl pkcs8 -topk8 -v2 aes-256-cbc\`) or remove the passphrase`,
  scrypt: "is encrypted with scrypt parameters above N=16384, r=8, p=1; re-encrypt it with default settings or remove the passphrase",
  scheme: "is encrypted with a scheme that is not supported; use PBES2 with PBKDF2 or scrypt (what `openssl pkcs8 -topk8` writes) or remove the passphrase",
  legacyHeader: "has a malformed DEK-Info header",
} as const;

// ------------------------------------------------------------------ a small DER reader

interface Tlv {
  tag: number;
  /** Content start and end offsets in the buffer. */
  start: number;
  end: number;
}

class DerError extends Error {}

function readTlv(buf: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError("truncated");
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new DerError("truncated");
  return { tag, start: p, end: p + len };
}

/** The children of a constructed TLV (one level; no recursion). */
function children(buf: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
    if (out.length > 16) throw new DerError("too many elements");
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number): Tlv {
  if (!t || t.tag !== tag) throw new DerError("unexpected tag");
  return t;
}

function oid(buf: Buffer, t: Tlv | undefined): string {
  const o = expectTag(t, 0x06);
  const bytes = buf.subarray(o.start, o.end);
  if (bytes.length === 0 || bytes.length > 32) throw new DerError("bad oid");
  const parts: number[] = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let v = 0;
  for (let i = 1; i < bytes.length; i++) {
    v = v * 128 + (bytes[i]! & 0x7f);
    if (!(bytes[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** A non-negative INTEGER; Infinity when it has more than 6 significant bytes (never legitimate here). */
function uint(buf: Buffer, t: Tlv | undefined): number {
  const i = expectTag(t, 0x02);
  let bytes = buf.subarray(i.start, i.end);
  if (bytes.length === 0 || bytes[0]! & 0x80) throw new DerError("bad integer");
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  if (bytes.length > 6) return Infinity;
  return bytes.readUIntBE(0, bytes.length);
}

const OID = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  scrypt: "1.3.6.1.4.1.11591.4.11",
} as const;
// PBES1: pbeWithMD2AndDES-CBC … pbeWithSHA1AndRC2-CBC (RFC 8018 A.3).
const PBES1 = new Set(["1.2.840.113549.1.5.1", "1.2.840.113549.1.5.3", "1.2.840.113549.1.5.4", "1.2.840.113549.1.5.6", "1.2.840.113549.1.5.10", "1.2.840.113549.1.5.11"]);
const PKCS12_PBE = /^1\.2\.840\.113549\.1\.12\.1\.[1-6]$/;

/** Why the EncryptedPrivateKeyInfo's parameters are refused, or null when they are within the caps. */
function checkEncryptedPrivateKeyInfo(der: Buffer): string | null {
  try {
    const top = expectTag(readTlv(der, 0, der.length), 0x30);
    const [algId] = children(der, top);
    const [algOid, params] = children(der, expectTag(algId, 0x30));
    const alg = oid(der, algOid);
    if (PBES1.has(alg) || PKCS12_PBE.test(alg)) {
      const [, iterations] = children(der, expectTag(params, 0x30));
      return uint(der, iterations) > MAX_PBKDF2_ITERATIONS ? PRIVATE_KEY_MESSAGES.iterations : null;
    }
    if (alg !== OID.pbes2) return PRIVATE_KEY_MESSAGES.scheme;
    const [kdf] = children(der, expectTag(params, 0x30));
    const [kdfOid, kdfParams] = children(der, expectTag(kdf, 0x30));
    const kdfAlg = oid(der, kdfOid);
    const p = children(der, expectTag(kdfParams, 0x30));
    if (kdfAlg === OID.pbkdf2) {
      return uint(der, p[1]) > MAX_PBKDF2_ITERATIONS ? PRIVATE_KEY_MESSAGES.iterations : null;
    }
    if (kdfAlg === OID.scrypt) {
      const n = uint(der, p[1]);
      const r = uint(der, p[2]);
      const par = uint(der, p[3]);
      return n * r * par > MAX_SCRYPT_COST ? PRIVATE_KEY_MESSAGES.scrypt : null;
    }
    return PRIVATE_KEY_MESSAGES.scheme;
  } catch (e) {
    if (e instanceof DerError) return PRIVATE_KEY_MESSAGES.unreadable;
    throw e;
  }
}

/**
 * The first PEM block: the leftmost `-----BEGIN <label>-----` line that has a matching
 * `-----END <label>-----` after it, and the text between them (without the line break before the
 * END line). What the regular expression `/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/`
 * finds, in time linear in the input: that expression, unanchored, scanned to the end of the text
 * from every BEGIN line without an END, quadratic in the number of such lines (a 60 KB key of
 * `-----BEGIN A-----` lines held the event loop for ~200 ms per request). Here the END lines are
 * indexed once (last position per label) and each BEGIN line is checked against that index.
 */
export function firstPemBlock(pem: string): { label: string; body: string } | null {
  const lastEnd = new Map<string, number>();
  // A lookahead, so that END lines sharing dashes (`-----END A-----END B-----`) are all seen.
  for (const m of pem.matchAll(/-----END (?=([A-Z0-9 ]+)-----)/g)) lastEnd.set(m[1]!, m.index);
  if (lastEnd.size === 0) return null;
  for (const m of pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n/g)) {
    const label = m[1]!;
    const from = m.index + m[0].length;
    if ((lastEnd.get(label) ?? -1) < from) continue;
    let body = pem.slice(from, pem.indexOf(`-----END ${label}-----`, from));
    if (body.endsWith("\n")) body = body.slice(0, -1);
    if (body.endsWith("\r")) body = body.slice(0, -1);
    return { label, body };
  }
  return null;
}

/**
 * Why this PEM's encryption parameters are refused, or null when decrypting it is cheap (or it is
 * not encrypted). Looks only at the first PEM block, as node:crypto does.
 */
export function checkPemEncryption(pem: string): { field: "private_key"; reason: string } | null {
  const m = firstPemBlock(pem);
  if (!m) return null; // not PEM at all: node's parser says so, cheaply
  const { label, body } = m;
  if (label === "ENCRYPTED PRIVATE KEY") {
    const der = Buffer.from(body.replace(/\s+/g, ""), "base64");
    const why = checkEncryptedPrivateKeyInfo(der);
    return why ? { field: "private_key", reason: why } : null;
  }
  if (/^Proc-Type:\s*4,ENCRYPTED\s*$/im.test(body)) {
    // RFC 1421 §4.6.1.3: DEK-Info: <cipher>,<IV in hex>. The key is EVP_BytesToKey (one MD5 round).
    const dek = /^DEK-Info:\s*([A-Za-z0-9-]{1,32}),([0-9A-Fa-f]{16,64})\s*$/m.exec(body);
    return dek ? null : { field: "private_key", reason: PRIVATE_KEY_MESSAGES.legacyHeader };
  }
  return null;
}

function isEncryptedPem(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type:\s*4,ENCRYPTED/i.test(pem);
}

/**
 * Open a PEM RSA private key within bounds: encryption parameters capped before decrypting, RSA
 * size within [minBits, maxBits], public exponent of at most 32 bits. Throws PrivateKeyError.
 * `sizeReason` is the provider's own wording for a key that is not RSA or too small.
 */
export function openRsaPrivateKey(
  pem: string,
  passphrase: string | undefined,
  opts: { minBits: number; maxBits: number; sizeReason: string },
): crypto.KeyObject {
  const refused = checkPemEncryption(pem);
  if (refused) throw new PrivateKeyError(refused.field, refused.reason);
  const encrypted = isEncryptedPem(pem);
  if (encrypted && !passphrase) throw new PrivateKeyError("passphrase", PRIVATE_KEY_MESSAGES.passphraseMissing);
  let key: crypto.KeyObject;
  try {
    // node ignores a passphrase given for an unencrypted key.
    key = crypto.createPrivateKey({ key: pem, format: "pem", ...(passphrase ? { passphrase } : {}) });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (!passphrase && (code === "ERR_MISSING_PASSPHRASE" || code === "ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED")) {
      throw new PrivateKeyError("passphrase", PRIVATE_KEY_MESSAGES.passphraseMissing);
    }
    if (passphrase && (encrypted || code === "ERR_OSSL_BAD_DECRYPT")) throw new PrivateKeyError("passphrase", PRIVATE_KEY_MESSAGES.passphraseWrong);
    throw new PrivateKeyError("private_key", PRIVATE_KEY_MESSAGES.unreadable);
  }
  assertRsaWithinBounds(key, opts);
  return key;
}

/** RSA, modulus within [minBits, maxBits], public exponent of at most 32 bits; else PrivateKeyError. */
export function assertRsaWithinBounds(key: crypto.KeyObject, opts: { minBits: number; maxBits: number; sizeReason: string }): void {
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength ?? 0;
  const exponent = details?.publicExponent ?? 0n;
  if (key.asymmetricKeyType !== "rsa" || bits < opts.minBits) throw new PrivateKeyError("private_key", opts.sizeReason);
  if (bits > opts.maxBits) throw new PrivateKeyError("private_key", `must be an RSA key of at most ${opts.maxBits} bits`);
  if (exponent <= 1n || exponent >= 1n << BigInt(MAX_RSA_EXPONENT_BITS)) {
    throw new PrivateKeyError("private_key", `has an unusual RSA public exponent; generate a standard key (exponent 65537)`);
  }
}

/**
 * For keys that are used as given (a GCP key file's unencrypted private_key): why it is too costly
 * to sign with (RSA above maxBits, or an unusual exponent), else null. A key that does not open at
 * all is left to the caller's own handling.
 */
export function oversizedRsaKeyReason(pem: string, maxBits: number): string | null {
  if (checkPemEncryption(pem)) return "must not be encrypted: upload the key file exactly as Google downloaded it";
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    return null;
  }
  if (key.asymmetricKeyType !== "rsa") return null;
  try {
    assertRsaWithinBounds(key, { minBits: 0, maxBits, sizeReason: "" });
    return null;
  } catch (e) {
    if (e instanceof PrivateKeyError) return e.reason;
    throw e;
  }
}
