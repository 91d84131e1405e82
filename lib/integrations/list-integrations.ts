import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { getDeps, type CoreDeps } from "./deps";
import { presentIntegration, withStore } from "./common";
import type { Integration } from "./schemas";

/** The org's integrations, without any secret. */
export async function listIntegrations(
  args: { actor: Actor | null; org: string },
  deps: CoreDeps = getDeps(),
): Promise<{ org: string; integrations: Integration[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const rows = await withStore(() => deps.store.listByOrg(args.org));
  return { org: args.org, integrations: rows.map((r) => presentIntegration(deps, r)) };
}
