import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv, type Env } from "../env";
import { AppError } from "../errors";
import { createDeps, type CoreDeps } from "../deps";
import type { AuditEvent } from "../audit/events";
import { listAuditEvents } from "../audit/list-audit-events";
import { findInvitation, getAccounts, getReadyAuth } from "./accounts";
import type { Actor } from "./actor";
import type { MembershipLookup } from "./authorize";
import { createOrgApiKey } from "./organizations";
import { acceptInvitation, createUserOrganization, inviteMember, listOrgMembers, removeMember, updateMemberRole } from "./org-accounts";

/**
 * What a removed or demoted member handed out goes with them (docs/security.md, "Removed and
 * demoted members"): the keys they created and the invitations they sent, including one created
 * while the change ran (the race tests/security/removal-races.test.ts performs over HTTP; here the
 * change is made to land exactly between the request's role check and its insert).
 */
let dir: string;
let env: Env;
let deps: CoreDeps;
const CLI: Actor = { kind: "system", name: "cli" };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-withdraw-"));
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent" });
  deps = createDeps(env, { log: pino({ level: "silent" }) });
  await getAccounts(env).ready;
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function signUp(email: string): Promise<{ actor: Actor; headers: Headers; email: string }> {
  const auth = await getReadyAuth(env);
  const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: email.split("@")[0]! }, returnHeaders: true });
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return { actor: { kind: "user", userId: r.response.user.id, email }, headers: new Headers({ cookie }), email };
}
type Person = Awaited<ReturnType<typeof signUp>>;

async function orgWithAdmin(slug: string): Promise<{ owner: Person; admin: Person; memberId: string }> {
  const owner = await signUp(`owner@${slug}.example.com`);
  const admin = await signUp(`admin@${slug}.example.com`);
  await createUserOrganization({ actor: owner.actor, input: { name: slug, slug }, reqHeaders: owner.headers }, deps);
  const inv = await inviteMember({ actor: owner.actor, org: slug, input: { email: admin.email, role: "admin" }, reqHeaders: owner.headers }, deps);
  await acceptInvitation({ actor: admin.actor, token: inv.token, reqHeaders: admin.headers }, deps);
  const memberId = (await listOrgMembers({ actor: owner.actor, org: slug }, deps)).members.find((m) => m.email === admin.email)!.id;
  return { owner, admin, memberId };
}

/** Deps whose membership lookup runs `change` once, right after the lookup that lets `userId` in. */
function changeAfterFirstLookup(userId: string, change: () => Promise<unknown>): CoreDeps {
  let fired = false;
  const memberships: MembershipLookup = async (u, org) => {
    const role = await deps.memberships(u, org);
    if (u === userId && !fired) {
      fired = true;
      await change();
    }
    return role;
  };
  return { ...deps, memberships };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

const events = async (org: string): Promise<AuditEvent[]> => (await listAuditEvents({ actor: CLI, org, query: { limit: 500 } }, deps)).events;

describe("a key or invitation created while its creator is removed or demoted does not survive", () => {
  for (const change of ["removed", "demoted"] as const) {
    it(`createOrgApiKey: creator ${change} between the role check and the insert → refused, and the key is revoked`, async () => {
      const org = `wk-${change}`;
      const { owner, admin, memberId } = await orgWithAdmin(org);
      const racing = changeAfterFirstLookup(admin.actor.kind === "user" ? admin.actor.userId : "", () =>
        change === "removed"
          ? removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)
          : updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps),
      );
      expect(await codeOf(createOrgApiKey({ actor: admin.actor, org, role: "admin" }, racing))).toBe(change === "removed" ? "org_not_found" : "forbidden");
      const keys = await deps.auth.listApiKeys(org);
      expect(keys.length).toBe(1); // it was stored, then revoked by its own request
      expect(keys.every((k) => k.revokedAt !== null)).toBe(true);
    });

    // Here Better Auth's own member check (inside createInvitation) already sees the change; the
    // window inside it, between that check and its insert, is what inviteMember's second check
    // covers, and no test can land a change there deterministically.
    it(`inviteMember: inviter ${change} after our role check → refused, and no invitation is left pending`, async () => {
      const org = `wi-${change}`;
      const { owner, admin, memberId } = await orgWithAdmin(org);
      const racing = changeAfterFirstLookup(admin.actor.kind === "user" ? admin.actor.userId : "", () =>
        change === "removed"
          ? removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)
          : updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps),
      );
      expect(await codeOf(inviteMember({ actor: admin.actor, org, input: { email: `alt@${org}.example.com`, role: "admin" }, reqHeaders: admin.headers }, racing))).not.toBe("ok");
      expect((await listOrgMembers({ actor: owner.actor, org }, deps)).invitations).toEqual([]);
    });
  }
});

describe("removal and demotion cancel the member's pending invitations, audited", () => {
  it("the owner's invitations stay; the admin's are canceled with one invitation.cancel each; the result counts them", async () => {
    const org = "wa-audit";
    const { owner, admin, memberId } = await orgWithAdmin(org);
    const alt = await inviteMember({ actor: admin.actor, org, input: { email: "alt@wa.example.com", role: "admin" }, reqHeaders: admin.headers }, deps);
    const mine = await inviteMember({ actor: owner.actor, org, input: { email: "friend@wa.example.com", role: "viewer" }, reqHeaders: owner.headers }, deps);
    const r = await updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps);
    expect(r).toEqual({ revokedKeys: 0, canceledInvitations: 1 });
    expect((await findInvitation(env, alt.id))?.status).toBe("canceled");
    expect((await findInvitation(env, mine.id))?.status).toBe("pending");
    const es = await events(org);
    expect(es.slice(0, 2).map((e) => [e.action, e.outcome, e.target])).toEqual([
      ["member.role_change", "ok", `${admin.email} (admin → viewer)`],
      ["invitation.cancel", "ok", `alt@wa.example.com (admin), sent by ${admin.email} (admin → viewer)`],
    ]);
    expect(JSON.stringify(es)).not.toContain(alt.id); // the invitation id is the link's secret
    // Nothing left to cancel at the removal.
    expect(await removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)).toEqual({ revokedKeys: 0, canceledInvitations: 0 });
  });
});
