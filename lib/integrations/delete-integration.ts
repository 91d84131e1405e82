import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "./deps";
import { resolveProviderOrThrow, withStore } from "./common";

/** Remove the integration and its ciphertext; pipelines stop getting it (this process at once). */
export async function deleteIntegration(
  args: { actor: Actor | null; org: string; provider: string },
  deps: CoreDeps = getDeps(),
): Promise<{ fingerprint: string }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const row = await withStore(() => deps.store.get(args.org, provider.id));
  if (!row) throw new AppError("integration_not_found", `${provider.name} is not connected for this organization.`);
  await withStore(() => deps.store.delete(args.org, provider.id, row.version));
  deps.cache.invalidate(args.org, provider.id);
  return { fingerprint: row.fingerprint };
}
