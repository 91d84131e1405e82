import "server-only";
import { hasBrand } from "../brand";

/**
 * The Cipher port. Every backend (local AES-256-GCM key ring, Google Cloud KMS) implements it.
 * The AAD binds a ciphertext to the row it belongs to: a blob copied to another org, provider or
 * credential id fails to decrypt.
 */
export interface AadContext {
  org: string;
  provider: string;
  credentialId: string;
}

export interface EncryptResult {
  ciphertext: Buffer;
  /** Stable reference to the key (key ring path or Cloud KMS CryptoKey name). */
  keyRef: string;
  /** The key version that encrypted this blob (local key id, or CryptoKeyVersion name). */
  keyVersion: string;
}

export interface DecryptResult {
  plaintext: Buffer;
  keyVersion: string;
  /** False when an older (non-primary) key version decrypted the blob: a rotation candidate. */
  usedPrimary: boolean;
}

export interface Cipher {
  readonly backend: "local" | "gcp";
  encrypt(plaintext: Buffer, ctx: AadContext): Promise<EncryptResult>;
  decrypt(ciphertext: Buffer, ctx: AadContext): Promise<DecryptResult>;
  /** The key version new encryptions use. */
  primaryKeyVersion(): Promise<string>;
  /** A cheap call proving the key service answers (readiness). */
  ping(): Promise<void>;
}

export type CipherErrorCode =
  | "decrypt_failed" // tampered blob, wrong AAD, unknown key version: fail closed
  | "unavailable" // key service down or exhausted after bounded retries
  | "misconfigured"; // key ring unreadable, bad key material, wrong key name

// instanceof across module copies (lib/brand.ts): the deps' cipher may throw another copy of this class.
const CIPHER_ERROR: unique symbol = Symbol.for("credential-manager.CipherError") as never;

export class CipherError extends Error {
  readonly [CIPHER_ERROR] = true;
  static override [Symbol.hasInstance](x: unknown): boolean {
    return hasBrand(x, CIPHER_ERROR);
  }
  constructor(
    readonly code: CipherErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CipherError";
  }
}

/** Canonical AAD: a JSON array is unambiguous where `a|b` joins are not. */
export function buildAad(ctx: AadContext): Buffer {
  return Buffer.from(JSON.stringify(["org-integration-credential/v1", ctx.org, ctx.provider, ctx.credentialId]), "utf8");
}
