"use server";

import { headers } from "next/headers";
import { getSessionActor } from "@/lib/auth/session";
import { cancelInvitation, inviteMember, listOrgMembers, removeMember, updateMemberRole } from "@/lib/auth/org-accounts";
import { orgPath, run } from "./run";

/** Members and invitations: session → the core (authorizeOrgOrThrow, then Better Auth's own checks). */

export async function listMembersAction(org: string) {
  const actor = await getSessionActor();
  return run(() => listOrgMembers({ actor, org }));
}

export async function inviteMemberAction(org: string, input: unknown) {
  const actor = await getSessionActor();
  const reqHeaders = await headers();
  return run(() => inviteMember({ actor, org, input, reqHeaders }), `${orgPath(org)}/settings`);
}

export async function cancelInvitationAction(org: string, invitationId: string) {
  const actor = await getSessionActor();
  const reqHeaders = await headers();
  return run(() => cancelInvitation({ actor, org, invitationId: String(invitationId), reqHeaders }), `${orgPath(org)}/settings`);
}

export async function updateMemberRoleAction(org: string, memberId: string, role: unknown) {
  const actor = await getSessionActor();
  const reqHeaders = await headers();
  return run(() => updateMemberRole({ actor, org, memberId: String(memberId), role, reqHeaders }), `${orgPath(org)}/settings`);
}

export async function removeMemberAction(org: string, memberId: string) {
  const actor = await getSessionActor();
  const reqHeaders = await headers();
  return run(() => removeMember({ actor, org, memberId: String(memberId), reqHeaders }), `${orgPath(org)}/settings`);
}
