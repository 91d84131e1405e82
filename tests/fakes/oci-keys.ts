import crypto from "node:crypto";

import { fakeChars } from "./keys";

/**
 * OCI API signing keys for tests, generated at test time (never committed): an RSA key pair in the
 * PEM forms the OCI console and `openssl genrsa` produce, the matching OCI fingerprint (MD5 of the
 * DER SubjectPublicKeyInfo, colon-separated lowercase hex) and structurally valid OCIDs
 * (docs/providers.md, "Oracle Cloud"), ready to use as an `oci` credential and to register with the OCI fake.
 */

export interface OciCredential {
  tenancy_ocid: string;
  user_ocid: string;
  fingerprint: string;
  private_key: string;
  passphrase?: string;
  region: string;
}

export interface OciTestKey {
  /** The credential fields (docs/api.md, provider `oci`). */
  credential: OciCredential;
  /** SPKI PEM of the public half: what a user uploads to the console (and registers with the fake). */
  publicKeyPem: string;
  /** The correct OCI fingerprint of the key (also in credential.fingerprint unless overridden). */
  fingerprint: string;
}

export interface MakeOciApiKeyOptions {
  /** RSA modulus length; default 2048. */
  bits?: number;
  /** Encrypts the PEM with this passphrase (and puts it in the credential). */
  passphrase?: string;
  /**
   * PEM form: "pkcs8" (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` with a passphrase, as
   * the console downloads) or "pkcs1" (`BEGIN RSA PRIVATE KEY`, with `Proc-Type: 4,ENCRYPTED` when
   * encrypted, as `openssl genrsa -aes128` writes). Default "pkcs8".
   */
  format?: "pkcs8" | "pkcs1";
  /** Seeds the OCIDs (same seed, same OCIDs). */
  seed?: string;
  tenancy_ocid?: string;
  user_ocid?: string;
  region?: string;
  /** Key type other than RSA, for negative tests. */
  type?: "rsa" | "ec";
}

const OCID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A structurally valid OCID: ocid1.<type>.oc1..aaaaaaaa<52 chars> (60-char unique part). */
export function fakeOcid(type: "tenancy" | "user", seed: string): string {
  return `ocid1.${type}.oc1..aaaaaaaa${fakeChars(`oci-${type}/${seed}`, 52, OCID_CHARS)}`;
}

/** OCI's key fingerprint: MD5 of the DER SubjectPublicKeyInfo, as colon-separated lowercase hex. */
export function ociFingerprint(key: crypto.KeyObject | string): string {
  const publicKey = typeof key === "string" ? crypto.createPublicKey(key) : key.type === "private" ? crypto.createPublicKey(key) : key;
  const der = publicKey.export({ type: "spki", format: "der" });
  const hex = crypto.createHash("md5").update(der).digest("hex");
  return hex.match(/../g)!.join(":");
}

export function makeOciApiKey(opts: MakeOciApiKeyOptions = {}): OciTestKey {
  const seed = opts.seed ?? "default";
  const pair =
    opts.type === "ec"
      ? crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      : crypto.generateKeyPairSync("rsa", { modulusLength: opts.bits ?? 2048 });
  const format = opts.type === "ec" ? "pkcs8" : (opts.format ?? "pkcs8");
  const privatePem = pair.privateKey.export(
    opts.passphrase
      ? { type: format, format: "pem", cipher: "aes-256-cbc", passphrase: opts.passphrase }
      : { type: format, format: "pem" },
  ) as string;
  const publicKeyPem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
  const fingerprint = ociFingerprint(pair.publicKey);
  const credential: OciCredential = {
    tenancy_ocid: opts.tenancy_ocid ?? fakeOcid("tenancy", seed),
    user_ocid: opts.user_ocid ?? fakeOcid("user", seed),
    fingerprint,
    private_key: privatePem,
    region: opts.region ?? "us-ashburn-1",
  };
  if (opts.passphrase) credential.passphrase = opts.passphrase;
  return { credential, publicKeyPem, fingerprint };
}
