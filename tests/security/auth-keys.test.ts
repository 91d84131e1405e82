import { describe, expect, inject, it } from "vitest";
import { acceptAs, createOrgAs, httpFrom, inviteAs, keysAction, membersAction, membersOf, newPerson, restWithKey, type Person } from "./auth-support";

/**
 * Attack: removed members keep access (docs/security.md, "Removed and demoted members"). API keys
 * outlived the member who created them, and nothing recorded who that was.
 */
const base = inject("baseUrl");

async function orgWithAdmin(): Promise<{ owner: Person; admin: Person; org: string }> {
  const owner = await newPerson(base);
  const org = await createOrgAs(base, owner);
  const admin = await newPerson(base);
  await acceptAs(base, admin, (await inviteAs(base, owner, org, admin.email, "admin")).token);
  return { owner, admin, org };
}

async function keyAs(p: Person, org: string, role: "admin" | "viewer"): Promise<{ apiKey: string; id: string }> {
  const r = await keysAction(base, p, org, "createApiKeyAction", [org, { role, label: `${role} key of ${p.email}` }]);
  expect(r.value?.ok, JSON.stringify(r.value)).toBe(true);
  return { apiKey: r.value.data.apiKey, id: r.value.data.key.id };
}

describe("API keys go with the member who created them", () => {
  it("records the creator and shows it on the keys page", async () => {
    const { owner, admin, org } = await orgWithAdmin();
    const k = await keyAs(admin, org, "viewer");
    const list = await keysAction(base, owner, org, "listApiKeysAction", [org]);
    expect(list.value.data.find((x: { id: string }) => x.id === k.id)).toMatchObject({ creator: admin.email });
    const page = await httpFrom(base, owner.from, "GET", `/orgs/${org}/settings/api-keys`, { headers: { cookie: owner.cookie } });
    expect(page.text).toContain("Created by");
    expect(page.text).toContain(admin.email);
  });

  it("a removed admin's keys get 401 at once; the owner's keep working; the removal says so", async () => {
    const { owner, admin, org } = await orgWithAdmin();
    const adminKey = await keyAs(admin, org, "admin");
    const adminViewerKey = await keyAs(admin, org, "viewer");
    const ownerKey = await keyAs(owner, org, "admin");
    expect(await restWithKey(base, `/integrations/${org}`, adminKey.apiKey)).toBe(200);

    const member = (await membersOf(base, owner, org)).find((m) => m.email === admin.email)!;
    const removed = await membersAction(base, owner, org, "removeMemberAction", [org, member.id]);
    expect(removed.value).toEqual({ ok: true, data: { revokedKeys: 2, canceledInvitations: 0, deletedWebhooks: 0 } });

    expect(await restWithKey(base, `/integrations/${org}`, adminKey.apiKey)).toBe(401);
    expect(await restWithKey(base, `/integrations/${org}`, adminViewerKey.apiKey)).toBe(401);
    expect(await restWithKey(base, `/integrations/${org}`, ownerKey.apiKey)).toBe(200);
    // And the removed member's session no longer reaches the org either.
    const after = await keysAction(base, admin, org, "createApiKeyAction", [org, { role: "admin" }]);
    expect(after.value).toMatchObject({ ok: false, error: { code: expect.stringMatching(/not_found$/) } });
  });

  it("demoting an admin to viewer revokes the keys they created", async () => {
    const { owner, admin, org } = await orgWithAdmin();
    const adminKey = await keyAs(admin, org, "admin");
    const member = (await membersOf(base, owner, org)).find((m) => m.email === admin.email)!;
    const demoted = await membersAction(base, owner, org, "updateMemberRoleAction", [org, member.id, "viewer"]);
    expect(demoted.value).toEqual({ ok: true, data: { revokedKeys: 1, canceledInvitations: 0, deletedWebhooks: 0 } });
    expect(await restWithKey(base, `/integrations/${org}`, adminKey.apiKey)).toBe(401);
    // Now a viewer: cannot make a new one.
    const again = await keysAction(base, admin, org, "createApiKeyAction", [org, { role: "admin" }]);
    expect(again.value).toMatchObject({ ok: false, error: { code: "forbidden" } });
    // A promotion revokes nothing.
    const promoted = await membersAction(base, owner, org, "updateMemberRoleAction", [org, member.id, "admin"]);
    expect(promoted.value).toEqual({ ok: true, data: { revokedKeys: 0, canceledInvitations: 0, deletedWebhooks: 0 } });
  });
});
