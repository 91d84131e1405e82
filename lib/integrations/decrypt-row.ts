import "server-only";
import { CipherError } from "../kms/cipher";
import type { CredentialRow } from "../storage/store";
import type { CoreDeps } from "../deps";

/** Decrypt a row's credential with the AAD rebuilt from the row's own columns. */
export async function decryptRow(deps: CoreDeps, row: CredentialRow): Promise<Record<string, unknown>> {
  const { plaintext } = await deps.cipher.decrypt(row.ciphertext, { org: row.org, provider: row.provider, credentialId: row.credentialId });
  try {
    return JSON.parse(plaintext.toString("utf8")) as Record<string, unknown>;
  } catch {
    // Never surface the parser's message: it quotes the plaintext.
    throw new CipherError("decrypt_failed", "The stored credential decrypted to an unreadable value.");
  } finally {
    plaintext.fill(0);
  }
}
