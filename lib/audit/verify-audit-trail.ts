import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { getDeps } from "../deps";
import type { AuthStore } from "../auth/auth-store";
import type { MembershipLookup } from "../auth/authorize";
import { authorizeAuditReadOrThrow } from "./list-audit-events";
import type { AuditBackend } from "./record-audit";
import { verifyAuditChains, type OrgChainReport } from "./verify-audit-chain";

export interface AuditVerifyReport {
  ok: boolean;
  orgs: OrgChainReport[];
}

/** `audit verify`: every org's chain (the operator), or one org's (its owners and admins too). */
export async function verifyAuditTrail(
  args: { actor: Actor | null; org?: string },
  deps: { auth: AuthStore; memberships: MembershipLookup; audit: AuditBackend } = getDeps(),
): Promise<AuditVerifyReport> {
  // The operator may verify any chain, including one of an org that has since been deleted.
  if (args.actor?.kind !== "system") {
    if (args.org === undefined) throw new AppError("forbidden", "Only the operator (the CLI) can verify every organization's audit trail at once.");
    await authorizeAuditReadOrThrow(deps, args.actor, args.org);
  }
  const orgs = await verifyAuditChains(deps.audit.store, deps.audit.key, args.org);
  return { ok: orgs.every((o) => o.ok), orgs };
}
