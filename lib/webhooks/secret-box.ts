import "server-only";
import type { Cipher } from "../kms/cipher";

/**
 * Endpoint signing secrets are encrypted at rest with the same Cipher as credentials (local key
 * ring or Cloud KMS), bound by AAD to their org and endpoint id: a row copied to another org or
 * endpoint does not decrypt. The "provider" slot of the AAD holds the fixed kind "webhook", which
 * is never a provider id (docs/architecture.md).
 */
const AAD_KIND = "webhook";

export async function sealWebhookSecret(cipher: Cipher, org: string, endpointId: string, secret: string) {
  return cipher.encrypt(Buffer.from(secret, "utf8"), { org, provider: AAD_KIND, credentialId: endpointId });
}

export async function openWebhookSecret(cipher: Cipher, org: string, endpointId: string, ciphertext: Buffer): Promise<string> {
  const { plaintext } = await cipher.decrypt(ciphertext, { org, provider: AAD_KIND, credentialId: endpointId });
  try {
    return plaintext.toString("utf8");
  } finally {
    plaintext.fill(0);
  }
}
