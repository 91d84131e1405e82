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
import { createWebhook } from "../webhooks/create-webhook";
import { listWebhooksWithCreators } from "../webhooks/list-webhooks";
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
  // Webhooks to a loopback URL nothing listens on (they are never delivered here).
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent", WEBHOOK_ALLOW_PRIVATE: "1" });
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

    it(`createWebhook: creator ${change} between the role check and the insert → refused, and the endpoint is deleted`, async () => {
      const org = `ww-${change}`;
      const { owner, admin, memberId } = await orgWithAdmin(org);
      const racing = changeAfterFirstLookup(admin.actor.kind === "user" ? admin.actor.userId : "", () =>
        change === "removed"
          ? removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)
          : updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps),
      );
      const input = { url: "http://127.0.0.1:9/insider", events: ["integration.created"] };
      expect(await codeOf(createWebhook({ actor: admin.actor, org, input }, racing))).toBe(change === "removed" ? "org_not_found" : "forbidden");
      expect(await deps.webhooks.listEndpoints(org)).toEqual([]); // it was stored, then deleted by its own request
    });

    it(`createWebhook with the admin's API key, verified before the admin was ${change} → refused, and the endpoint is deleted`, async () => {
      const org = `wk2-${change}`;
      const { owner, admin, memberId } = await orgWithAdmin(org);
      const { key } = await createOrgApiKey({ actor: admin.actor, org, role: "admin" }, deps);
      const keyActor: Actor = { kind: "api_key", org, role: "admin", keyId: key.id }; // as the route verified it
      // An endpoint added with the key belongs to the key's creator: the change takes it.
      await createWebhook({ actor: keyActor, org, input: { url: "http://127.0.0.1:9/by-key", events: ["integration.created"] } }, deps);
      const r =
        change === "removed"
          ? await removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)
          : await updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps);
      expect(r).toEqual({ revokedKeys: 1, canceledInvitations: 0, deletedWebhooks: 1 });
      // A request that was verified before the revocation and inserts after the change.
      expect(await codeOf(createWebhook({ actor: keyActor, org, input: { url: "http://127.0.0.1:9/late", events: ["integration.created"] } }, deps))).toBe("unauthenticated");
      expect(await deps.webhooks.listEndpoints(org)).toEqual([]);
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
    expect(r).toEqual({ revokedKeys: 0, canceledInvitations: 1, deletedWebhooks: 0 });
    expect((await findInvitation(env, alt.id))?.status).toBe("canceled");
    expect((await findInvitation(env, mine.id))?.status).toBe("pending");
    const es = await events(org);
    expect(es.slice(0, 2).map((e) => [e.action, e.outcome, e.target])).toEqual([
      ["member.role_change", "ok", `${admin.email} (admin → viewer)`],
      ["invitation.cancel", "ok", `alt@wa.example.com (admin), sent by ${admin.email} (admin → viewer)`],
    ]);
    expect(JSON.stringify(es)).not.toContain(alt.id); // the invitation id is the link's secret
    // Nothing left to cancel at the removal.
    expect(await removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)).toEqual({ revokedKeys: 0, canceledInvitations: 0, deletedWebhooks: 0 });
  });
});

describe("removal and demotion delete the webhook endpoints the member added, audited", () => {
  for (const change of ["removed", "demoted"] as const) {
    it(`an admin ${change}: their endpoints go (one webhook.delete each), the owner's stay; the result and the page list say so`, async () => {
      const org = `wd-${change}`;
      const { owner, admin, memberId } = await orgWithAdmin(org);
      const a1 = await createWebhook({ actor: admin.actor, org, input: { url: "http://127.0.0.1:9/a1/secret-path?t=secret-query", events: ["integration.created"] } }, deps);
      const a2 = await createWebhook({ actor: admin.actor, org, input: { url: "http://127.0.0.2:9/a2", events: ["integration.deleted"] } }, deps);
      const mine = await createWebhook({ actor: owner.actor, org, input: { url: "http://127.0.0.1:9/owner", events: ["integration.created"] } }, deps);
      expect((await listWebhooksWithCreators({ actor: owner.actor, org }, deps)).map((w) => [w.id, w.creator])).toEqual([
        [a1.id, admin.email],
        [a2.id, admin.email],
        [mine.id, owner.email],
      ]);
      const r =
        change === "removed"
          ? await removeMember({ actor: owner.actor, org, memberId, reqHeaders: owner.headers }, deps)
          : await updateMemberRole({ actor: owner.actor, org, memberId, role: "viewer", reqHeaders: owner.headers }, deps);
      expect(r).toEqual({ revokedKeys: 0, canceledInvitations: 0, deletedWebhooks: 2 });
      expect((await deps.webhooks.listEndpoints(org)).map((w) => w.id)).toEqual([mine.id]);
      const deletes = (await events(org)).filter((e) => e.action === "webhook.delete");
      const by = change === "removed" ? `${admin.email} (admin)` : `${admin.email} (admin → viewer)`;
      expect(deletes.map((e) => [e.outcome, e.target]).sort()).toEqual(
        [
          ["ok", `${a1.id} (http://127.0.0.1:9), added by ${by}`],
          ["ok", `${a2.id} (http://127.0.0.2:9), added by ${by}`],
        ].sort(),
      );
      expect(JSON.stringify(deletes)).not.toContain("secret-");
      expect(deletes.every((e) => e.actor.type === "user" && e.actor.email === owner.email)).toBe(true);
    });
  }
});
