import "server-only";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { resolveProviderOrThrow, withCipher, withStore } from "./common";
import { decryptRow } from "./decrypt-row";
import type { RuntimeCredential } from "./runtime";

/**
 * For the cost pipelines (trusted server code, no actor): the decrypted credential, served from
 * the 5-minute in-process cache; concurrent misses share one store read and one decrypt.
 */
export async function getCredential(org: string, providerId: string, deps: CoreDeps = getDeps()): Promise<RuntimeCredential> {
  const provider = resolveProviderOrThrow(deps, providerId);
  return deps.cache.get(org, provider.id, async () => {
    const row = await withStore(() => deps.store.get(org, provider.id));
    if (!row) throw new AppError("integration_not_found", `${provider.name} is not connected for organization ${org}.`);
    const credential = await withCipher(() => decryptRow(deps, row));
    return {
      org,
      provider: provider.id,
      credentialId: row.credentialId,
      version: row.version,
      fingerprint: row.fingerprint,
      status: row.status,
      credential: Object.freeze(credential),
      metadata: Object.freeze({ ...row.metadata }),
    };
  });
}
