import "server-only";

import { CipherError, type Cipher } from "./cipher";
import { GcpKmsCipher } from "./gcp";
import { LocalKeyRingCipher } from "./local";

export type { AadContext, Cipher, CipherErrorCode, DecryptResult, EncryptResult } from "./cipher";
export { buildAad, CipherError } from "./cipher";
export { addKeyVersion, LOCAL_KEY_REF, LocalKeyRingCipher, retireKeyVersion, type LocalKeyRingCipherOptions } from "./local";
export { canonicalize, fingerprintOf, loadOrCreatePepper } from "./fingerprint";
export { GCP_KMS_KEY_RE, GcpKmsCipher, kmsClientOptionsForEndpoint, type GcpKmsCipherOptions } from "./gcp";

export type KmsBackend = Cipher["backend"];

export interface CreateCipherOptions {
  backend: KmsBackend;
  dataDir: string;
  /** local only: create the key ring when missing (default true). See LocalKeyRingCipherOptions. */
  createKeyRingIfMissing?: boolean;
  /** gcp only: the CryptoKey name (GCP_KMS_KEY), required for gcp. */
  gcpKeyName?: string;
  /** gcp only: `host:port` of a KMS gRPC endpoint used without TLS or Google credentials (GCP_KMS_ENDPOINT). */
  gcpEndpoint?: string;
}

/** The Cipher for the configured KMS_BACKEND. */
export function createCipher(opts: CreateCipherOptions): Cipher {
  switch (opts.backend) {
    case "local":
      return new LocalKeyRingCipher({ dataDir: opts.dataDir, createIfMissing: opts.createKeyRingIfMissing });
    case "gcp":
      if (!opts.gcpKeyName) throw new CipherError("misconfigured", "GCP_KMS_KEY is required when KMS_BACKEND=gcp.");
      return new GcpKmsCipher({ keyName: opts.gcpKeyName, endpoint: opts.gcpEndpoint || undefined });
    default:
      throw new CipherError("misconfigured", `Unknown KMS_BACKEND ${JSON.stringify(opts.backend as string)}`);
  }
}
