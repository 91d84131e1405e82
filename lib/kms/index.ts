import "server-only";

import { CipherError, type Cipher } from "./cipher";
import { LocalKeyRingCipher } from "./local";

export type { AadContext, Cipher, CipherErrorCode, DecryptResult, EncryptResult } from "./cipher";
export { buildAad, CipherError } from "./cipher";
export { addKeyVersion, LOCAL_KEY_REF, LocalKeyRingCipher, retireKeyVersion, type LocalKeyRingCipherOptions } from "./local";
export { canonicalize, fingerprintOf, loadOrCreatePepper } from "./fingerprint";

export type KmsBackend = Cipher["backend"];

export interface CreateCipherOptions {
  backend: KmsBackend;
  dataDir: string;
  /** local only: create the key ring when missing (default true). See LocalKeyRingCipherOptions. */
  createKeyRingIfMissing?: boolean;
}

/** The Cipher for the configured KMS_BACKEND. */
export function createCipher(opts: CreateCipherOptions): Cipher {
  switch (opts.backend) {
    case "local":
      return new LocalKeyRingCipher({ dataDir: opts.dataDir, createIfMissing: opts.createKeyRingIfMissing });
    case "gcp":
      throw new CipherError("misconfigured", "KMS_BACKEND=gcp is not available yet in this build");
    default:
      throw new CipherError("misconfigured", `Unknown KMS_BACKEND ${JSON.stringify(opts.backend as string)}`);
  }
}
