import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { getDeps, type CoreDeps } from "../deps";
import { integrationView, withStore } from "./common";
import { IntegrationListSchema, type Integration } from "./schemas";

/**
 * The org's integrations, without any secret. Reads only the columns it shows (never the
 * ciphertext) and parses its output through the schema once, as a whole.
 */
export async function listIntegrations(
  args: { actor: Actor | null; org: string },
  deps: CoreDeps = getDeps(),
): Promise<{ org: string; integrations: Integration[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const rows = await withStore(() => deps.store.listSummaries(args.org));
  return IntegrationListSchema.parse({ org: args.org, integrations: rows.map((r) => integrationView(deps, r)) });
}
