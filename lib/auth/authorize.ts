import "server-only";
import { AppError } from "../errors";
import type { Actor, OrgAction, OrgRole } from "./actor";
import { ORG_SLUG_RE } from "./org-slug";
import type { ApiKeyRole, AuthStore, OrgRecord } from "./auth-store";

/** Looks up a user's role in an org. The accounts issue (web UI) provides the real one. */
export type MembershipLookup = (userId: string, org: string) => Promise<OrgRole | null>;

export const noMemberships: MembershipLookup = async () => null;

const SLUG_RE = ORG_SLUG_RE;

function roleAllows(role: OrgRole | ApiKeyRole, action: OrgAction): boolean {
  // A pipeline key reads credentials through …/access only (authorizePipelineAccessOrThrow), nothing here.
  if (role === "pipeline") return false;
  return action === "read" || role === "owner" || role === "admin";
}

/**
 * The one authorization check of the product: every use case calls it, for keys, sessions and the
 * CLI alike. An org the actor does not belong to is reported as not found, so its existence leaks
 * nothing; a role that may not do `action` gets 403.
 */
export async function authorizeOrgOrThrow(
  deps: { auth: AuthStore; memberships: MembershipLookup },
  actor: Actor | null,
  org: string,
  action: OrgAction,
): Promise<OrgRecord> {
  if (!actor) throw new AppError("unauthenticated", "Sign in or send an org API key (X-API-Key header).");
  const notFound = () => new AppError("org_not_found", `Organization '${SLUG_RE.test(org) ? org : "?"}' was not found.`);
  if (!SLUG_RE.test(org)) throw notFound();

  let role: OrgRole | ApiKeyRole;
  if (actor.kind === "api_key") {
    if (actor.org !== org) throw notFound();
    role = actor.role;
  } else if (actor.kind === "user") {
    const r = await deps.memberships(actor.userId, org);
    if (!r) throw notFound();
    role = r;
  } else {
    role = "owner"; // the local CLI, run by whoever holds DATA_DIR
  }
  const record = await deps.auth.getOrg(org);
  if (!record) throw notFound();
  if (!roleAllows(role, action)) {
    if (role === "pipeline") throw new AppError("forbidden", "A pipeline key may only call POST /integrations/{org}/{provider}/access.");
    throw new AppError("forbidden", `Your role (${role}) can view this organization's integrations but not change them.`);
  }
  return record;
}

/**
 * The check of `POST …/access`: only an org API key with the `pipeline` role, of this org. Any
 * other actor (admin or viewer key, a user session, the CLI) gets 403: decrypted credentials leave
 * the server through this one door, to the one kind of caller that is made for it.
 */
export async function authorizePipelineAccessOrThrow(
  deps: { auth: AuthStore },
  actor: Actor | null,
  org: string,
): Promise<OrgRecord> {
  if (!actor) throw new AppError("unauthenticated", "Send a pipeline API key (X-API-Key header).");
  const notFound = () => new AppError("org_not_found", `Organization '${SLUG_RE.test(org) ? org : "?"}' was not found.`);
  if (!SLUG_RE.test(org)) throw notFound();
  if (actor.kind === "api_key" && actor.org !== org) throw notFound();
  if (actor.kind !== "api_key" || actor.role !== "pipeline") {
    throw new AppError("forbidden", "Only an org API key with the pipeline role may fetch credentials; create one with `keys create <org> --role pipeline`.");
  }
  const record = await deps.auth.getOrg(org);
  if (!record) throw notFound();
  return record;
}
