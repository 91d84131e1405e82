"use server";

import { headers } from "next/headers";
import { z } from "zod";
import { ORG_ROLES } from "@/lib/auth/accounts";
import { cancelInvitation, InviteInputSchema, inviteMember, listOrgMembers, removeMember, updateMemberRole } from "@/lib/auth/org-accounts";
import { OrgSlugSchema } from "@/lib/integrations/schemas";
import { AuthIdArg } from "./args";
import { orgPath, runAction } from "./run";

/**
 * Members and invitations: arguments parsed with zod (runAction) → session → the core
 * (authorizeOrgOrThrow, then Better Auth's own checks) → revalidate.
 */

const Org = OrgSlugSchema;
const settings = ({ org }: { org: string }) => `${orgPath(org)}/settings`;

export async function listMembersAction(org: string) {
  return runAction(z.object({ org: Org }), { org }, ({ org }, actor) => listOrgMembers({ actor, org }));
}

export async function inviteMemberAction(org: string, input: unknown) {
  return runAction(
    z.object({ org: Org, input: InviteInputSchema }),
    { org, input },
    async ({ org, input }, actor) => inviteMember({ actor, org, input, reqHeaders: await headers() }),
    settings,
  );
}

export async function cancelInvitationAction(org: string, invitationId: string) {
  return runAction(
    z.object({ org: Org, invitationId: AuthIdArg }),
    { org, invitationId },
    async ({ org, invitationId }, actor) => {
      await cancelInvitation({ actor, org, invitationId, reqHeaders: await headers() });
      return null;
    },
    settings,
  );
}

/** Returns how many API keys the member had created and lost with a demotion. */
export async function updateMemberRoleAction(org: string, memberId: string, role: unknown) {
  return runAction(
    z.object({ org: Org, memberId: AuthIdArg, role: z.enum(ORG_ROLES, { message: "must be owner, admin or viewer" }) }),
    { org, memberId, role },
    async ({ org, memberId, role }, actor) => updateMemberRole({ actor, org, memberId, role, reqHeaders: await headers() }),
    settings,
  );
}

/** Returns how many API keys the member had created (all revoked with the removal). */
export async function removeMemberAction(org: string, memberId: string) {
  return runAction(
    z.object({ org: Org, memberId: AuthIdArg }),
    { org, memberId },
    async ({ org, memberId }, actor) => removeMember({ actor, org, memberId, reqHeaders: await headers() }),
    settings,
  );
}
