import "server-only";
import { z } from "zod";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { issuesToFields } from "../zod-fields";
import { OrgSlugSchema } from "./org-slug";
import type { Actor, OrgRole } from "./actor";
import { authorizeOrgOrThrow } from "./authorize";
import type { OrgRecord } from "./auth-store";
import { mailIsDelivered, sendMail } from "../mail";
import { invitationMail } from "../mail/templates";
import { invitationIdFromToken, invitationToken } from "./invitation-links";
import {
  cancelPendingInvitation,
  cancelPendingInvitationsBy,
  cancelPendingInvitationsTo,
  deleteMemberRows,
  findAuthOrganization,
  findInvitation,
  findUserById,
  isMemberByEmail,
  memberRowsOf,
  publicOrigin,
  getReadyAuth,
  INVITABLE_ROLES,
  listOrgMembersRaw,
  listPendingInvitationsRaw,
  listUserOrganizations,
  ORG_ROLES,
  ROLE_RANK,
  withAuthErrors,
} from "./accounts";
import { createOrganization } from "./organizations";
import { recordAudit, recordAuditFailure, type AuditInput } from "../audit/record-audit";
import { webhookAuditTarget } from "../webhooks/present";

/**
 * What a member/invitation change tells its audit record: whom it concerned, the org (when it is
 * learnt), the API keys it revoked, the invitations it canceled (their email and role) and the
 * webhook endpoints it deleted (id and URL; the audit keeps the URL's origin only).
 */
interface AuditNote {
  target?: string;
  org?: string;
  revokedKeyIds?: string[];
  canceledInvitations?: string[];
  deletedWebhooks?: Array<{ id: string; url: string }>;
  /** Invitations addressed to the member themself (not sent by them), canceled. */
  canceledInvitationsTo?: string[];
}

/**
 * Runs a member/invitation change and records it (outcome ok, or the error's code), plus one
 * api_key.revoke per key it revoked, one invitation.cancel per invitation it canceled and one
 * webhook.delete per endpoint it deleted on the way (those stay revoked, canceled and deleted even
 * if the change then fails).
 */
async function auditedChange<T>(deps: CoreDeps, base: Omit<AuditInput, "outcome" | "target">, fn: (note: AuditNote) => Promise<T>): Promise<T> {
  const note: AuditNote = {};
  const revokes = async () => {
    const by = note.target ?? "the member";
    for (const id of note.revokedKeyIds ?? []) {
      await recordAudit(deps, { actor: base.actor, org: note.org ?? base.org, action: "api_key.revoke", outcome: "ok", target: `${id}, created by ${by}` });
    }
    for (const invited of note.canceledInvitations ?? []) {
      await recordAudit(deps, { actor: base.actor, org: note.org ?? base.org, action: "invitation.cancel", outcome: "ok", target: `${invited}, sent by ${by}` });
    }
    for (const w of note.deletedWebhooks ?? []) {
      await recordAudit(deps, { actor: base.actor, org: note.org ?? base.org, action: "webhook.delete", outcome: "ok", target: `${webhookAuditTarget(w.id, w.url)}, added by ${by}` });
    }
    for (const invited of note.canceledInvitationsTo ?? []) {
      await recordAudit(deps, { actor: base.actor, org: note.org ?? base.org, action: "invitation.cancel", outcome: "ok", target: `${invited}, addressed to ${by}` });
    }
  };
  try {
    const r = await fn(note);
    await revokes();
    await recordAudit(deps, { ...base, org: note.org ?? base.org, target: note.target ?? null, outcome: "ok" });
    return r;
  } catch (e) {
    await revokes();
    if (note.org ?? base.org) await recordAuditFailure(deps, { ...base, org: note.org ?? base.org, target: note.target ?? null }, e);
    throw e;
  }
}

/**
 * Organizations as people use them in the web UI: create (the creator becomes the owner), members,
 * invitations by link, roles. Every function takes the actor from the server and authorizes with
 * authorizeOrgOrThrow first (so an org the user is not in is "not found", exactly like the REST
 * API); Better Auth's own role checks run after ours. `reqHeaders` carries the session cookie to
 * Better Auth.
 */

function userOrThrow(actor: Actor | null): Extract<Actor, { kind: "user" }> {
  if (!actor) throw new AppError("unauthenticated", "Sign in first.");
  if (actor.kind !== "user") throw new AppError("forbidden", "Only a signed-in user can do this.");
  return actor;
}

async function authOrgIdOrThrow(deps: CoreDeps, slug: string): Promise<string> {
  const org = await findAuthOrganization(deps.env, slug);
  if (!org) throw new AppError("org_not_found", `Organization '${slug}' was not found.`);
  return org.id;
}

/** Slugs that would collide with the UI's own paths (/orgs/new). */
const RESERVED_SLUGS = new Set(["new", "settings", "api", "admin"]);

export const CreateOrgInputSchema = z
  .object({
    name: z.string().trim().min(1, { message: "is required" }).max(100, { message: "must be at most 100 characters" }),
    slug: OrgSlugSchema,
  })
  .strict();

/**
 * Create an organization for a signed-in user: our org row and Better Auth's org (same slug), the
 * user as owner. At most MAX_ORGS_PER_ACCOUNT orgs created by one account (that still exist),
 * counted and inserted atomically (createOrgLimited); past it `forbidden` (docs/security.md,
 * "Organizations per account").
 */
export async function createUserOrganization(
  args: { actor: Actor | null; input: unknown; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<OrgRecord> {
  const user = userOrThrow(args.actor);
  const parsed = CreateOrgInputSchema.safeParse(args.input);
  if (!parsed.success) {
    const fields = issuesToFields(parsed.error);
    throw new AppError("invalid_request", `The organization ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("; ")}.`, { fields });
  }
  const { name, slug } = parsed.data;
  if (RESERVED_SLUGS.has(slug)) throw new AppError("invalid_request", `The slug '${slug}' is reserved; choose another.`, { fields: { slug: "is reserved" } });
  const auth = await getReadyAuth(deps.env);
  if (await findAuthOrganization(deps.env, slug)) {
    throw new AppError("conflict", `The slug '${slug}' is taken; choose another.`, { fields: { slug: "is taken" } });
  }
  let org: OrgRecord;
  try {
    ({ org } = await createOrganization({ actor: user, slug, name, initialApiKey: false, perAccount: { userId: user.userId, max: deps.env.MAX_ORGS_PER_ACCOUNT } }, deps));
  } catch (e) {
    if (e instanceof AppError && e.code === "conflict") throw new AppError("conflict", `The slug '${slug}' is taken; choose another.`, { fields: { slug: "is taken" } });
    throw e;
  }
  try {
    await withAuthErrors(() => auth.api.createOrganization({ body: { name, slug }, headers: args.reqHeaders }));
  } catch (e) {
    // Both or neither. Should the undo fail too, the caller still gets Better Auth's refusal,
    // the error that says what went wrong; the orphan row shows up in the log.
    await deps.auth.deleteOrg(slug).catch((err: unknown) => {
      deps.log.error({ org: slug, err_name: (err as Error)?.name ?? "Error" }, "could not remove the org row after Better Auth refused the org");
    });
    throw e;
  }
  return org;
}

/** The signed-in user's organizations (those that exist on both sides), by name. */
export async function listMyOrganizations(actor: Actor | null, deps: CoreDeps = getDeps()) {
  const user = userOrThrow(actor);
  const orgs = await listUserOrganizations(deps.env, user.userId);
  const ours = await Promise.all(orgs.map((o) => deps.auth.getOrg(o.slug)));
  return orgs.filter((_, i) => ours[i] !== null);
}

/** The actor's role in the org (after authorization: not a member → org_not_found). */
export async function getMyOrgRole(args: { actor: Actor | null; org: string }, deps: CoreDeps = getDeps()): Promise<{ org: OrgRecord; role: OrgRole }> {
  const org = await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const actor = args.actor!;
  if (actor.kind === "user") return { org, role: (await deps.memberships(actor.userId, args.org)) ?? "viewer" };
  // (a pipeline key never gets here: authorizeOrgOrThrow refuses it)
  if (actor.kind === "api_key") return { org, role: actor.role === "admin" ? "admin" : "viewer" };
  return { org, role: "owner" };
}

export interface MemberView {
  id: string;
  email: string;
  name: string;
  role: OrgRole;
  joinedAt: string;
  isYou: boolean;
}

export interface InvitationView {
  id: string;
  email: string;
  role: string;
  expiresAt: string;
  /** The secret of the link /invite/<token> (lib/auth/invitation-links.ts); owners and admins only. */
  token: string;
  /** How the link went to the invited address (only right after inviting). */
  mail?: "smtp" | "outbox" | "failed";
}

/**
 * Members, and for owners and admins the pending invitations. An invitation id is a bearer
 * secret (the link /invite/<id>), so viewers never get one: not here, not in the page payload
 * (docs/security.md, "Invitation links").
 */
export async function listOrgMembers(
  args: { actor: Actor | null; org: string },
  deps: CoreDeps = getDeps(),
): Promise<{ members: MemberView[]; invitations: InvitationView[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const { role: myRole } = await getMyOrgRole(args, deps);
  const orgId = await authOrgIdOrThrow(deps, args.org);
  const me = args.actor?.kind === "user" ? args.actor.userId : null;
  const members = (await listOrgMembersRaw(deps.env, orgId)).map((m) => ({
    id: m.id,
    email: m.email,
    name: m.name,
    role: m.role,
    joinedAt: m.createdAt,
    isYou: m.userId === me,
  }));
  if (myRole !== "owner" && myRole !== "admin") return { members, invitations: [] };
  const invitations = (await listPendingInvitationsRaw(deps.env, orgId)).map((i) => ({
    id: i.id,
    token: invitationToken(deps.env, i.id),
    email: i.email,
    role: i.role,
    expiresAt: new Date(i.expiresAt).toISOString(),
  }));
  return { members, invitations };
}

export const InviteInputSchema = z
  .object({
    email: z.string().trim().toLowerCase().email({ message: "must be an email address" }).max(254),
    role: z.enum(INVITABLE_ROLES, { message: "must be admin or viewer" }),
  })
  .strict();

/** Invite someone by email; returns the invitation id for the link /invite/<id> (no email is sent). Audited (member.invite). */
export async function inviteMember(
  args: { actor: Actor | null; org: string; input: unknown; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<InvitationView> {
  return auditedChange(deps, { actor: args.actor, org: args.org, action: "member.invite" }, async (note) => {
    const inv = await inviteMemberUnaudited(args, deps);
    note.target = `${inv.email} (${inv.role})`;
    return inv;
  });
}

async function inviteMemberUnaudited(
  args: { actor: Actor | null; org: string; input: unknown; reqHeaders: Headers },
  deps: CoreDeps,
): Promise<InvitationView> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  userOrThrow(args.actor);
  const parsed = InviteInputSchema.safeParse(args.input);
  if (!parsed.success) {
    const fields = issuesToFields(parsed.error);
    throw new AppError("invalid_request", `The invitation ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("; ")}.`, { fields });
  }
  const organizationId = await authOrgIdOrThrow(deps, args.org);
  const auth = await getReadyAuth(deps.env);
  const inv = await withAuthErrors(() =>
    auth.api.createInvitation({ body: { email: parsed.data.email, role: parsed.data.role, organizationId }, headers: args.reqHeaders }),
  );
  // Checked again now that it exists: a removal or demotion of the inviter that ran meanwhile
  // canceled what they had sent before this one was there (withdrawGrants), so this request
  // cancels its own.
  // Likewise the address: if its owner joined meanwhile (accepting another invitation, whose
  // request cancels the ones pending once its member row exists), this one goes too.
  try {
    await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
    await refuseMemberAddress(deps, organizationId, inv.email);
  } catch (e) {
    await cancelPendingInvitation(deps.env, inv.id);
    throw e;
  }
  // The link goes to the invited address only (SMTP, or the operator's outbox); the inviter also
  // gets it back to hand over. Never logged: the log line names the transport only.
  let mail: InvitationView["mail"];
  try {
    const org = await deps.auth.getOrg(args.org);
    const message = invitationMail({
      to: inv.email,
      link: `${publicOrigin(deps.env)}/invite/${invitationToken(deps.env, inv.id)}`,
      orgName: org?.name ?? args.org,
      role: inv.role,
      inviterEmail: (args.actor as Extract<Actor, { kind: "user" }>).email,
    });
    mail = (await sendMail(deps.env, message)).transport;
    deps.log.info({ org: args.org, mail: "invitation", transport: mail }, "mail sent");
  } catch (e) {
    mail = "failed";
    deps.log.error({ org: args.org, mail: "invitation", err_name: (e as Error)?.name ?? "Error", err_code: (e as { code?: unknown })?.code }, "mail could not be sent");
  }
  return { id: inv.id, token: invitationToken(deps.env, inv.id), email: inv.email, role: inv.role, expiresAt: new Date(inv.expiresAt).toISOString(), mail };
}

/**
 * An address that is already a member gets no invitation: Better Auth's createInvitation refuses
 * one ("User is already a member of this organization", crud-invites.mjs), but with a separate
 * read before its insert; this runs once the invitation exists (docs/security.md, "Removed and
 * demoted members").
 */
async function refuseMemberAddress(deps: CoreDeps, organizationId: string, email: string): Promise<void> {
  if (await isMemberByEmail(deps.env, organizationId, email)) {
    throw new AppError("conflict", `${email} is already a member of this organization; change their role on the members page instead.`, {
      fields: { email: "is already a member" },
    });
  }
}

/** Cancel a pending invitation (its link stops working). Audited (invitation.cancel: the invited email and role, never the invitation id, which is the link's secret). */
export async function cancelInvitation(
  args: { actor: Actor | null; org: string; invitationId: string; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<void> {
  return auditedChange(deps, { actor: args.actor, org: args.org, action: "invitation.cancel" }, (note) => cancelInvitationUnaudited(args, deps, note));
}

async function cancelInvitationUnaudited(
  args: { actor: Actor | null; org: string; invitationId: string; reqHeaders: Headers },
  deps: CoreDeps,
  note: AuditNote,
): Promise<void> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const inv = await findInvitation(deps.env, args.invitationId);
  const organizationId = await authOrgIdOrThrow(deps, args.org);
  if (!inv || inv.organizationId !== organizationId) throw new AppError("not_found", "That invitation does not exist in this organization.");
  note.target = `${inv.email} (${inv.role})`;
  const auth = await getReadyAuth(deps.env);
  await withAuthErrors(() => auth.api.cancelInvitation({ body: { invitationId: inv.id }, headers: args.reqHeaders }));
}

const RoleSchema = z.enum(ORG_ROLES, { message: "must be owner, admin or viewer" });

/** Change a member's role. Audited (member.role_change: whom, and the new role). */
export async function updateMemberRole(
  args: { actor: Actor | null; org: string; memberId: string; role: unknown; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<Withdrawn> {
  return auditedChange(deps, { actor: args.actor, org: args.org, action: "member.role_change" }, (note) => updateMemberRoleUnaudited(args, deps, note));
}

async function updateMemberRoleUnaudited(
  args: { actor: Actor | null; org: string; memberId: string; role: unknown; reqHeaders: Headers },
  deps: CoreDeps,
  note: AuditNote,
): Promise<Withdrawn> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const role = RoleSchema.safeParse(args.role);
  if (!role.success) throw new AppError("invalid_request", "The role must be owner, admin or viewer.", { fields: { role: "must be owner, admin or viewer" } });
  const organizationId = await authOrgIdOrThrow(deps, args.org);
  const member = (await listOrgMembersRaw(deps.env, organizationId)).find((m) => m.id === args.memberId);
  if (!member) throw new AppError("not_found", "That person is not a member of this organization.");
  note.target = `${member.email} (${member.role} → ${role.data})`;
  const actor = userOrThrow(args.actor);
  if (member.userId === actor.userId) throw new AppError("forbidden", "You cannot change your own role; ask another owner or admin.");
  const myRole = await deps.memberships(actor.userId, args.org);
  if ((role.data === "owner" || member.role === "owner") && myRole !== "owner") {
    throw new AppError("forbidden", "Only an owner can grant or take away the owner role.");
  }
  // A demoted member's keys and invitations go with the power they had (withdrawGrants).
  const demotion = ROLE_RANK[role.data] < ROLE_RANK[member.role];
  if (demotion) await withdrawGrants(deps, args.org, organizationId, member.userId, note);
  const auth = await getReadyAuth(deps.env);
  await withAuthErrors(() => auth.api.updateMemberRole({ body: { memberId: member.id, role: role.data, organizationId }, headers: args.reqHeaders }));
  // A database from before the one-row rule may hold a second row for them: the role just set is the one.
  await deleteMemberRows(deps.env, organizationId, member.userId, member.id);
  if (demotion) await withdrawGrants(deps, args.org, organizationId, member.userId, note);
  return withdrawn(note);
}

/** What a removal or demotion took back from the member: API keys revoked, invitations canceled, webhook endpoints deleted. */
export interface Withdrawn {
  revokedKeys: number;
  canceledInvitations: number;
  deletedWebhooks: number;
}

const withdrawn = (note: AuditNote): Withdrawn => ({
  revokedKeys: note.revokedKeyIds?.length ?? 0,
  canceledInvitations: (note.canceledInvitations?.length ?? 0) + (note.canceledInvitationsTo?.length ?? 0),
  deletedWebhooks: note.deletedWebhooks?.length ?? 0,
});

/**
 * Takes back what a member handed out with a role they are losing: the org API keys they created
 * (revoked), the invitations they sent (canceled: accepting one, at a second address of their
 * own, would give the role back) and the webhook endpoints they added (deleted: each would keep
 * sending the org's integration events to a URL of their choosing). Called twice, around the
 * membership change: before it, so a failure of the change leaves fewer keys, links and endpoints
 * working, never more; after it, for what they created while it ran (one whose role check passed
 * just before the change). createOrgApiKey, inviteMember and createWebhook check the role again
 * once they have created theirs, so one created after the second call is withdrawn by its own
 * request (docs/security.md, "Removed and demoted members").
 */
async function withdrawGrants(deps: CoreDeps, org: string, organizationId: string, userId: string, note: AuditNote): Promise<void> {
  const keys = await deps.auth.revokeApiKeysCreatedBy(org, userId, new Date(deps.now()));
  note.revokedKeyIds = [...(note.revokedKeyIds ?? []), ...keys];
  const invitations = await cancelPendingInvitationsBy(deps.env, organizationId, userId);
  note.canceledInvitations = [...(note.canceledInvitations ?? []), ...invitations.map((i) => `${i.email} (${i.role})`)];
  const webhooks = await deps.webhooks.deleteEndpointsCreatedBy(org, userId);
  note.deletedWebhooks = [...(note.deletedWebhooks ?? []), ...webhooks];
  await withdrawInvitationsTo(deps, organizationId, userId, note);
}

/**
 * The other direction: invitations addressed to the member (one sent before they joined, by
 * anyone). Accepting one after a removal would bring them back; after a demotion it is refused
 * (acceptInvitation refuses members), and is canceled all the same.
 */
async function withdrawInvitationsTo(deps: CoreDeps, organizationId: string, userId: string, note: AuditNote): Promise<void> {
  const user = await findUserById(deps.env, userId);
  if (!user) return;
  const invitations = await cancelPendingInvitationsTo(deps.env, organizationId, user.email);
  note.canceledInvitationsTo = [...(note.canceledInvitationsTo ?? []), ...invitations.map((i) => `${i.email} (${i.role})`)];
}

/** Remove a member. Audited (member.remove). */
export async function removeMember(
  args: { actor: Actor | null; org: string; memberId: string; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<Withdrawn> {
  return auditedChange(deps, { actor: args.actor, org: args.org, action: "member.remove" }, (note) => removeMemberUnaudited(args, deps, note));
}

async function removeMemberUnaudited(
  args: { actor: Actor | null; org: string; memberId: string; reqHeaders: Headers },
  deps: CoreDeps,
  note: AuditNote,
): Promise<Withdrawn> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const organizationId = await authOrgIdOrThrow(deps, args.org);
  const member = (await listOrgMembersRaw(deps.env, organizationId)).find((m) => m.id === args.memberId);
  if (!member) throw new AppError("not_found", "That person is not a member of this organization.");
  note.target = `${member.email} (${member.role})`;
  const actor = userOrThrow(args.actor);
  if (member.userId === actor.userId) throw new AppError("forbidden", "You cannot remove yourself; ask another owner or admin.");
  if (member.role === "owner" && (await deps.memberships(actor.userId, args.org)) !== "owner") {
    throw new AppError("forbidden", "Only an owner can remove an owner.");
  }
  // The keys they created and the invitations they sent stop working with them (withdrawGrants).
  await withdrawGrants(deps, args.org, organizationId, member.userId, note);
  const auth = await getReadyAuth(deps.env);
  await withAuthErrors(() => auth.api.removeMember({ body: { memberIdOrEmail: member.id, organizationId }, headers: args.reqHeaders }));
  // Every row of theirs, should a database from before the one-row rule hold two.
  await deleteMemberRows(deps.env, organizationId, member.userId);
  await withdrawGrants(deps, args.org, organizationId, member.userId, note);
  return withdrawn(note);
}

export interface InvitationPreview {
  id: string;
  /** The link token it was opened with. */
  token: string;
  email: string;
  role: string;
  orgName: string;
  orgSlug: string;
  state: "pending" | "accepted" | "expired" | "canceled" | "rejected";
}

/** What the invitation link shows before signing in: the link token is the capability, so no auth. */
export async function getInvitationPreview(token: string, deps: CoreDeps = getDeps()): Promise<InvitationPreview | null> {
  const id = invitationIdFromToken(deps.env, token);
  if (!id) return null;
  const inv = await findInvitation(deps.env, id);
  if (!inv || !inv.org) return null;
  const state =
    inv.status === "pending" ? (new Date(inv.expiresAt).getTime() <= deps.now() ? "expired" : "pending") : (inv.status as InvitationPreview["state"]);
  return { id: inv.id, token, email: inv.email, role: inv.role, orgName: inv.org.name, orgSlug: inv.org.slug, state };
}

/** Accept an invitation (by its link token) addressed to the signed-in user's email; returns the org slug. Audited in that org (invitation.accept), refusals included. */
export async function acceptInvitation(
  args: { actor: Actor | null; token: string; reqHeaders: Headers },
  deps: CoreDeps = getDeps(),
): Promise<{ org: string }> {
  return auditedChange(deps, { actor: args.actor, org: "", action: "invitation.accept" }, (note) => acceptInvitationUnaudited(args, deps, note));
}

async function acceptInvitationUnaudited(
  args: { actor: Actor | null; token: string; reqHeaders: Headers },
  deps: CoreDeps,
  note: AuditNote,
): Promise<{ org: string }> {
  const user = userOrThrow(args.actor);
  const preview = await getInvitationPreview(args.token, deps);
  if (!preview) throw new AppError("not_found", "This invitation does not exist.");
  note.org = preview.orgSlug;
  note.target = `${preview.email} (${preview.role})`;
  if (preview.state !== "pending") throw new AppError("invalid_request", `This invitation is ${preview.state}; ask for a new one.`);
  if (preview.email.toLowerCase() !== user.email.toLowerCase()) {
    throw new AppError("forbidden", `This invitation is for ${preview.email}; sign in with that address to accept it.`);
  }
  // With real mail, signing up as the invited address is not enough: the address must have been
  // confirmed by mail (Better Auth checks it too: requireEmailVerificationOnInvitation).
  if (mailIsDelivered(deps.env) && !(await findUserById(deps.env, user.userId))?.emailVerified) {
    throw new AppError("forbidden", `Confirm ${preview.email} first: open the link we mailed to it, then accept the invitation.`);
  }
  // One member row per user and org. Better Auth's acceptInvitation does not check for one
  // (node_modules/better-auth/dist/plugins/organization/routes/crud-invites.mjs), so a member
  // holding an invitation (sent before they joined) is refused here: not a second row, not a
  // role change (their role changes on the members page).
  const organizationId = await authOrgIdOrThrow(deps, preview.orgSlug);
  if ((await memberRowsOf(deps.env, organizationId, user.userId)).length > 0) {
    throw new AppError("conflict", `You are already a member of ${preview.orgName}; an owner or admin can change your role on its members page.`);
  }
  const auth = await getReadyAuth(deps.env);
  const { member } = await withAuthErrors(() => auth.api.acceptInvitation({ body: { invitationId: preview.id }, headers: args.reqHeaders }));
  // Two acceptances in parallel both pass that check. Once ours exists, every request keeps the
  // same row (the lowest role, then the oldest: memberRowsOf) and deletes the others, so exactly
  // one is left whichever order they finish in; a request whose row went is refused. Then the
  // other invitations addressed to them are canceled: one created while this request ran (after
  // inviteMember's own check) would otherwise outlive a later removal.
  const rows = await memberRowsOf(deps.env, organizationId, user.userId);
  const kept = rows[0];
  if (rows.length > 1 && kept) await deleteMemberRows(deps.env, organizationId, user.userId, kept.id);
  const others = await cancelPendingInvitationsTo(deps.env, organizationId, user.email);
  note.canceledInvitationsTo = others.map((i) => `${i.email} (${i.role})`);
  if (!kept) throw new AppError("conflict", `Your membership of ${preview.orgName} was removed while the invitation was being accepted.`);
  if (kept.id !== member.id) {
    throw new AppError("conflict", `You are already a member of ${preview.orgName}; an owner or admin can change your role on its members page.`);
  }
  return { org: preview.orgSlug };
}
