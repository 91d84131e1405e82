import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { acceptAs, actionFrom, createOrgAs, httpFrom, inviteAs, keysAction, membersAction, membersOf, newPerson, restWithKey, uniqueEmail, waitFor, type Person } from "./auth-support";

/**
 * Attack: a member who is being removed or demoted keeps what their old role gave them
 * (docs/security.md, "Removed and demoted members"). Two ways were open:
 *
 * - Race: the admin keeps creating API keys while the owner removes them. A creation whose role
 *   check ran before the membership was deleted, and whose insert landed after the removal had
 *   revoked the admin's keys, left an active admin key in the hands of someone who is no longer a
 *   member.
 * - Leftovers: invitations the admin had sent (to a second address of their own) stayed pending
 *   after the removal or demotion: accepting one brought the admin role back.
 * - Leftovers: webhook endpoints the admin had added (in the UI, or over REST with their own admin
 *   key) kept receiving the org's integration events at the admin's URL after they were gone.
 */
const base = inject("baseUrl");

async function orgWithAdmin(): Promise<{ owner: Person; admin: Person; org: string; memberId: string }> {
  const owner = await newPerson(base);
  const org = await createOrgAs(base, owner);
  const admin = await newPerson(base);
  await acceptAs(base, admin, (await inviteAs(base, owner, org, admin.email, "admin")).token);
  const memberId = (await membersOf(base, owner, org)).find((m) => m.email === admin.email)!.id;
  return { owner, admin, org, memberId };
}

/**
 * The admin creates keys without pause (`streams` at a time) while `change` runs, and a little
 * after; returns every key the server handed out.
 */
async function keysCreatedDuring(admin: Person, org: string, change: () => Promise<unknown>, streams = 8): Promise<string[]> {
  const keys: string[] = [];
  let stop = false;
  const stream = async () => {
    while (!stop) {
      const r = await keysAction(base, admin, org, "createApiKeyAction", [org, { role: "admin", label: "race" }]);
      if (r.value?.ok) keys.push(r.value.data.apiKey as string);
      else if (r.value && r.value.ok === false) return; // refused: the change has landed for this stream
    }
  };
  const running = Array.from({ length: streams }, stream);
  await new Promise((r) => setTimeout(r, 150)); // the streams are under way
  await change();
  stop = true;
  await Promise.all(running);
  return keys;
}

describe("a removal or demotion racing with key creation leaves no key behind", () => {
  // Each round is one attempt at the window; the attack wins if any round leaves a working key.
  const ROUNDS = 4;

  it("keys created by an admin while the owner removes them all answer 401 afterwards", async () => {
    let created = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { owner, admin, org, memberId } = await orgWithAdmin();
      const keys = await keysCreatedDuring(admin, org, async () => {
        const r = await membersAction(base, owner, org, "removeMemberAction", [org, memberId]);
        expect(r.value?.ok, JSON.stringify(r.value)).toBe(true);
      });
      created += keys.length;
      const working = [];
      for (const k of keys) if ((await restWithKey(base, `/integrations/${org}`, k)) !== 401) working.push(k.slice(0, 12));
      expect(working, `round ${round}: keys of a removed admin still answer`).toEqual([]);
    }
    expect(created).toBeGreaterThan(0); // the streams did create keys before the removal
  });

  it("keys created by an admin while the owner demotes them to viewer all answer 401 afterwards", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { owner, admin, org, memberId } = await orgWithAdmin();
      const keys = await keysCreatedDuring(admin, org, async () => {
        const r = await membersAction(base, owner, org, "updateMemberRoleAction", [org, memberId, "viewer"]);
        expect(r.value?.ok, JSON.stringify(r.value)).toBe(true);
      });
      const working = [];
      for (const k of keys) if ((await restWithKey(base, `/integrations/${org}`, k)) !== 401) working.push(k.slice(0, 12));
      expect(working, `round ${round}: keys of a demoted admin still answer`).toEqual([]);
    }
  });
});

describe("invitations sent by a removed or demoted admin stop working with them", () => {
  for (const change of ["removed", "demoted"] as const) {
    it(`an admin ${change} by the owner cannot come back through an invitation they sent to a second address`, async () => {
      const { owner, admin, org, memberId } = await orgWithAdmin();
      const second = await newPerson(base, uniqueEmail("second-self"));
      const backdoor = await inviteAs(base, admin, org, second.email, "admin");
      // An invitation of the owner's own is not touched by the change (the control).
      const bystander = await newPerson(base, uniqueEmail("bystander"));
      const ownerInvite = await inviteAs(base, owner, org, bystander.email, "viewer");

      const r =
        change === "removed"
          ? await membersAction(base, owner, org, "removeMemberAction", [org, memberId])
          : await membersAction(base, owner, org, "updateMemberRoleAction", [org, memberId, "viewer"]);
      expect(r.value, JSON.stringify(r.value)).toMatchObject({ ok: true, data: { canceledInvitations: 1 } });

      const accepted = await acceptAs(base, second, backdoor.token);
      expect(accepted.redirect).toBeNull();
      expect(accepted.value?.error).toMatch(/canceled/);
      const members = await membersOf(base, owner, org);
      expect(members.map((m) => m.email)).not.toContain(second.email);
      // The second address has no way in: no org, no keys.
      const key = await keysAction(base, second, org, "createApiKeyAction", [org, { role: "admin" }]);
      expect(key.value).toMatchObject({ ok: false, error: { code: "org_not_found" } });
      // The owner's invitation still works.
      expect((await acceptAs(base, bystander, ownerInvite.token)).redirect).toBe(`/orgs/${org}/integrations`);
    });
  }

  it("a promotion cancels nothing", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const admin = await newPerson(base);
    await acceptAs(base, admin, (await inviteAs(base, owner, org, admin.email, "admin")).token);
    const friend = await newPerson(base, uniqueEmail("friend"));
    const inv = await inviteAs(base, admin, org, friend.email, "viewer");
    const memberId = (await membersOf(base, owner, org)).find((m) => m.email === admin.email)!.id;
    const r = await membersAction(base, owner, org, "updateMemberRoleAction", [org, memberId, "owner"]);
    expect(r.value?.ok, JSON.stringify(r.value)).toBe(true);
    expect((await acceptAs(base, friend, inv.token)).redirect).toBe(`/orgs/${org}/integrations`);
  });
});

describe("webhook endpoints added by a removed or demoted admin stop receiving the org's events", () => {
  // A receiver on loopback (the suite's server runs with WEBHOOK_ALLOW_PRIVATE=1): every request's path.
  const hits: string[] = [];
  let srv: http.Server;
  let recv: string;
  beforeAll(async () => {
    srv = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        hits.push(req.url ?? "");
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    recv = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => srv.close(r)));

  const webhooksAction = (p: Person, org: string, name: string, args: unknown[]) =>
    actionFrom(base, p.from, { page: `/orgs/${org}/settings/webhooks`, file: "app/orgs/[org]/settings/webhooks/actions.ts", name, args, cookie: p.cookie });

  for (const change of ["removed", "demoted"] as const) {
    it(`an admin ${change}: their endpoints (UI and REST with their key) get no event; the owner's does`, async () => {
      const { owner, admin, org, memberId } = await orgWithAdmin();
      const tag = `${org}-${change}`;
      const viaUi = await webhooksAction(admin, org, "createWebhookAction", [org, { url: `${recv}/insider-ui/${tag}`, events: ["integration.created"] }]);
      expect(viaUi.value, JSON.stringify(viaUi.value)).toMatchObject({ ok: true });
      const adminKey = (await keysAction(base, admin, org, "createApiKeyAction", [org, { role: "admin", label: "hook" }])).value.data.apiKey as string;
      const viaRest = await fetch(`${base}/integrations/${org}/webhooks`, {
        method: "POST",
        headers: { "x-api-key": adminKey, "content-type": "application/json" },
        body: JSON.stringify({ url: `${recv}/insider-rest/${tag}`, events: ["integration.created"] }),
      });
      expect(viaRest.status, await viaRest.clone().text()).toBe(201);
      const mine = await webhooksAction(owner, org, "createWebhookAction", [org, { url: `${recv}/owner/${tag}`, events: ["integration.created"] }]);
      expect(mine.value?.ok).toBe(true);
      // The settings page names who added each endpoint.
      const page = await httpFrom(base, owner.from, "GET", `/orgs/${org}/settings/webhooks`, { headers: { cookie: owner.cookie } });
      expect(page.text).toContain(admin.email);

      const r =
        change === "removed"
          ? await membersAction(base, owner, org, "removeMemberAction", [org, memberId])
          : await membersAction(base, owner, org, "updateMemberRoleAction", [org, memberId, "viewer"]);
      expect(r.value, JSON.stringify(r.value)).toMatchObject({ ok: true, data: { revokedKeys: 1, deletedWebhooks: 2 } });

      // An integration event of the org: the owner's endpoint hears it, the admin's are gone.
      const ownerKey = (await keysAction(base, owner, org, "createApiKeyAction", [org, { role: "admin", label: "owner" }])).value.data.apiKey as string;
      const setup = await fetch(`${base}/integrations/${org}/saas_datadog/setup`, {
        method: "POST",
        headers: { "x-api-key": ownerKey, "content-type": "application/json" },
        body: JSON.stringify({ credential: { display_name: "Datadog" } }),
      });
      expect(setup.status, await setup.clone().text()).toBe(201);
      await waitFor(() => hits.some((h) => h === `/owner/${tag}`), "the owner's endpoint to get integration.created", 30_000);
      const list = await webhooksAction(owner, org, "listWebhooksAction", [org]);
      expect((list.value.data as Array<{ url: string }>).map((w) => w.url)).toEqual([`${recv}/owner/${tag}`]);
      expect(hits.filter((h) => h.includes(`/${tag}`) && h.startsWith("/insider"))).toEqual([]);
    });
  }
});
