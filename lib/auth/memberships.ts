import "server-only";
import type { Env } from "../env";
import type { MembershipLookup } from "./authorize";

/**
 * The process's MembershipLookup: a user's role in an org, by slug, from Better Auth's member
 * and organization tables. Better Auth loads on the first lookup, so the CLI and unit tests that
 * never see a user actor do not pay for it.
 */
export function accountMemberships(env: Env): MembershipLookup {
  return async (userId, org) => {
    const { lookupMembership } = await import("./accounts");
    return lookupMembership(env, userId, org);
  };
}
