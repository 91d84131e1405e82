/**
 * Key material an attacker crafts to make one request expensive (docs/security.md, "One request
 * freezes the server"). Nothing here needs a real key: the server pays the cost before it can know.
 *
 * - An encrypted PKCS#8 PEM (RFC 5958 EncryptedPrivateKeyInfo) whose PBES2 parameters (RFC 8018
 *   A.4, A.2; RFC 7914 §7) say PBKDF2 with a huge iteration count, or scrypt with a huge cost:
 *   the ciphertext is random, so decryption fails, but only after the key derivation ran.
 * - An RSA key with a huge modulus whose numbers are random (not primes): node imports it without
 *   checking, and every signature then costs a full-size modular exponentiation.
 */
import crypto from "node:crypto";

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag]), len(content.length), content]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const nul = () => Buffer.from([0x05, 0x00]);

function int(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0) bytes.push(0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out: number[] = [a! * 40 + b!];
  for (const n of rest) {
    const chunk: number[] = [];
    let v = n;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const PBES2 = "1.2.840.113549.1.5.13";
const PBKDF2 = "1.2.840.113549.1.5.12";
const SCRYPT = "1.3.6.1.4.1.11591.4.11";
const HMAC_SHA256 = "1.2.840.113549.2.9";
const AES256_CBC = "2.16.840.1.101.3.4.1.42";

function pem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

function encryptedPkcs8(kdf: Buffer): string {
  const scheme = seq(oid(AES256_CBC), octets(crypto.randomBytes(16)));
  const alg = seq(oid(PBES2), seq(kdf, scheme));
  return pem("ENCRYPTED PRIVATE KEY", seq(alg, octets(crypto.randomBytes(1216))));
}

/** PBES2 + PBKDF2-HMAC-SHA256 with this iteration count. */
export function pbkdf2BombPem(iterations: number): string {
  return encryptedPkcs8(seq(oid(PBKDF2), seq(octets(crypto.randomBytes(8)), int(iterations), seq(oid(HMAC_SHA256), nul()))));
}

/** PBES2 + scrypt with these parameters (OpenSSL caps memory at 32 MiB, not time: p multiplies it). */
export function scryptBombPem(n: number, r: number, p: number): string {
  return encryptedPkcs8(seq(oid(SCRYPT), seq(octets(crypto.randomBytes(8)), int(n), int(r), int(p))));
}

/** A PKCS#8 PEM "RSA key" of `bits` bits made of random numbers (imports fine; signing is slow). */
export function hugeRsaPem(bits: number): string {
  const rnd = (b: number) => {
    const buf = crypto.randomBytes(b / 8);
    buf[0]! |= 0x80;
    buf[buf.length - 1]! |= 1;
    return buf.toString("base64url");
  };
  const jwk = { kty: "RSA", n: rnd(bits), e: "AQAB", d: rnd(bits), p: rnd(bits / 2), q: rnd(bits / 2), dp: rnd(bits / 2), dq: rnd(bits / 2), qi: rnd(bits / 2) };
  return crypto.createPrivateKey({ key: jwk, format: "jwk" }).export({ type: "pkcs8", format: "pem" }) as string;
}

/** OCI's fingerprint of a key (MD5 of the DER SubjectPublicKeyInfo), so a crafted key passes that check. */
export function ociFingerprintOf(pemText: string): string {
  const der = crypto.createPublicKey(crypto.createPrivateKey(pemText)).export({ type: "spki", format: "der" });
  return (crypto.createHash("md5").update(der).digest("hex").match(/../g) ?? []).join(":");
}

/** `[[[…"x"…]]]` nested `depth` deep, as JSON text (built without recursion). */
export function deepArrayJson(depth: number): string {
  return `${"[".repeat(depth)}"x"${"]".repeat(depth)}`;
}
