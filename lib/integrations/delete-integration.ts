import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { notifyIntegrationEvent } from "../webhooks/notify-integration-event";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { resolveProvider } from "./registry";
import { resolveProviderOrThrow, withStore } from "./common";

/** Remove the integration and its ciphertext; pipelines stop getting it (this process at once). Audited (integration.delete). */
export async function deleteIntegration(
  args: { actor: Actor | null; org: string; provider: string },
  deps: CoreDeps = getDeps(),
): Promise<{ fingerprint: string }> {
  const audit = { actor: args.actor, org: args.org, provider: resolveProvider(args.provider, deps.registry)?.id ?? null, action: "integration.delete" as const };
  try {
    const r = await deleteUnaudited(args, deps);
    await recordAudit(deps, { ...audit, fingerprint_before: r.fingerprint, fingerprint_after: null, outcome: "ok" });
    return r;
  } catch (e) {
    await recordAuditFailure(deps, audit, e);
    throw e;
  }
}

async function deleteUnaudited(args: { actor: Actor | null; org: string; provider: string }, deps: CoreDeps): Promise<{ fingerprint: string }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const row = await withStore(() => deps.store.get(args.org, provider.id));
  if (!row) throw new AppError("integration_not_found", `${provider.name} is not connected for this organization.`);
  await withStore(() => deps.store.delete(args.org, provider.id, row.version));
  deps.cache.invalidate(args.org, provider.id);
  await notifyIntegrationEvent(deps, { type: "integration.deleted", org: args.org, provider: provider.id, fingerprint: row.fingerprint, version: row.version });
  return { fingerprint: row.fingerprint };
}
