import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { StoreConflictError } from "../storage/store";
import { getDeps, type CoreDeps } from "../deps";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { resolveProvider } from "./registry";
import { getRowOrThrow, parseMetadataOrThrow, presentIntegration, resolveProviderOrThrow, withStore } from "./common";
import { MetadataBodySchema, issuesToFields, type Integration } from "./schemas";

/** Replace the integration's metadata (label, tags and the provider's own keys). Audited (integration.metadata). */
export async function updateIntegrationMetadata(
  args: { actor: Actor | null; org: string; provider: string; input: unknown },
  deps: CoreDeps = getDeps(),
): Promise<Integration> {
  const audit = { actor: args.actor, org: args.org, provider: resolveProvider(args.provider, deps.registry)?.id ?? null, action: "integration.metadata" as const };
  try {
    const r = await updateMetadataUnaudited(args, deps);
    await recordAudit(deps, { ...audit, fingerprint_before: r.fingerprint, fingerprint_after: r.fingerprint, outcome: "ok" });
    return r;
  } catch (e) {
    await recordAuditFailure(deps, audit, e);
    throw e;
  }
}

async function updateMetadataUnaudited(args: { actor: Actor | null; org: string; provider: string; input: unknown }, deps: CoreDeps): Promise<Integration> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const body = MetadataBodySchema.safeParse(args.input);
  if (!body.success) {
    throw new AppError("invalid_request", 'The body must be {"metadata": {…}} with no other fields.', { fields: issuesToFields(body.error) });
  }
  const metadata = parseMetadataOrThrow(provider, body.data.metadata);

  // Metadata does not depend on the credential's state, so a race with a concurrent validate is
  // retried rather than reported; a replacement in between is fine too (metadata carries over).
  for (let attempt = 0; ; attempt++) {
    const row = getRowOrThrow(await withStore(() => deps.store.get(args.org, provider.id)), provider);
    try {
      const updated = await deps.store.update(args.org, provider.id, row.version, {
        metadata,
        updatedAt: new Date(deps.now()).toISOString(),
      });
      return presentIntegration(deps, updated);
    } catch (e) {
      if (e instanceof StoreConflictError && attempt < 3) continue;
      return withStore(() => Promise.reject(e));
    }
  }
}
