import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { acceptAs, createOrgAs, httpFrom, inviteAs, keysAction, membersAction, membersOf, newPerson, uniqueEmail } from "./auth-support";

/**
 * Attack: a viewer becomes an admin (docs/security.md, "Invitation links"). Pending invitation
 * ids reached every member; a viewer signed up as the invited address, accepted, and created
 * admin API keys. The suite's server has no SMTP_URL: invitations go to the outbox.
 */
const base = inject("baseUrl");
const dataDir = inject("dataDir");
const logFile = inject("logFile");

describe("invitation ids are bearer secrets: only owners and admins see them", () => {
  it("a viewer's members page (HTML and RSC payload) and listMembersAction never carry a pending invitation id", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const viewer = await newPerson(base);
    const v = await inviteAs(base, owner, org, viewer.email, "viewer");
    expect((await acceptAs(base, viewer, v.id)).redirect).toBe(`/orgs/${org}/integrations`);
    // The invitation the viewer would like to steal: an admin seat for an address they might register.
    const pending = await inviteAs(base, owner, org, uniqueEmail("future-admin"), "admin");

    // Control: the owner does see it, so the checks below can see it too.
    const asOwner = await membersAction(base, owner, org, "listMembersAction", [org]);
    expect(asOwner.text).toContain(pending.id);
    const ownerPage = await httpFrom(base, owner.from, "GET", `/orgs/${org}/settings/members`, { headers: { cookie: owner.cookie } });
    expect(ownerPage.text).toContain(pending.id);

    const action = await membersAction(base, viewer, org, "listMembersAction", [org]);
    expect(action.value).toMatchObject({ ok: true, data: { invitations: [] } });
    expect(action.value.data.members.map((m: { email: string }) => m.email)).toContain(viewer.email);
    const html = await httpFrom(base, viewer.from, "GET", `/orgs/${org}/settings/members`, { headers: { cookie: viewer.cookie } });
    expect(html.status).toBe(200);
    // The RSC payload a client-side navigation fetches (Next answers a bare `RSC: 1` with a 307 to
    // the same path plus its `_rsc` cache key; follow it as the router does).
    let rsc = await httpFrom(base, viewer.from, "GET", `/orgs/${org}/settings/members`, { headers: { cookie: viewer.cookie, rsc: "1" } });
    if (rsc.status === 307) rsc = await httpFrom(base, viewer.from, "GET", String(rsc.headers.location), { headers: { cookie: viewer.cookie, rsc: "1" } });
    expect(rsc.status).toBe(200);
    expect(String(rsc.headers["content-type"])).toContain("text/x-component");
    expect(rsc.text).toContain(viewer.email); // the payload is the members page's
    for (const body of [action.text, html.text, rsc.text]) {
      expect(body).not.toContain(pending.id);
      expect(body).not.toContain(v.id);
    }
    // Nor through the other pages a viewer can open.
    for (const p of [`/orgs/${org}/integrations`, `/orgs/${org}/settings/api-keys`]) {
      const page = await httpFrom(base, viewer.from, "GET", p, { headers: { cookie: viewer.cookie } });
      expect(page.text).not.toContain(pending.id);
    }
  });

  it("a viewer cannot accept by guessing, cannot accept someone else's invitation, and cannot make keys", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const viewer = await newPerson(base);
    await acceptAs(base, viewer, (await inviteAs(base, owner, org, viewer.email, "viewer")).id);
    const adminSeat = await inviteAs(base, owner, org, uniqueEmail("someone"), "admin");

    // Guessing: ids are 32 random characters; every guess is "does not exist", nothing changes.
    for (let i = 0; i < 20; i++) {
      const guess = crypto.randomBytes(24).toString("base64url").slice(0, 32);
      const r = await acceptAs(base, viewer, guess);
      expect(r.status).toBe(200);
      expect(r.redirect).toBeNull();
      expect(r.value).toMatchObject({ error: "This invitation does not exist." });
    }
    // Even holding the real id, the invitation is for another address.
    const stolen = await acceptAs(base, viewer, adminSeat.id);
    expect(stolen.redirect).toBeNull();
    expect(stolen.value.error).toMatch(/This invitation is for .*sign in with that address/);
    expect((await membersOf(base, owner, org)).find((m) => m.email === viewer.email)?.role).toBe("viewer");
    const key = await keysAction(base, viewer, org, "createApiKeyAction", [org, { role: "admin" }]);
    expect(key.value).toMatchObject({ ok: false, error: { code: "forbidden" } });
  });

  it("without SMTP_URL the invitation goes to the operator's outbox (0600, addressed to the invitee), never into the log", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const invitee = uniqueEmail("outbox");
    const inv = await inviteAs(base, owner, org, invitee, "viewer");
    expect(inv.mail).toBe("outbox");
    const dir = path.join(dataDir, "outbox");
    const mine = fs
      .readdirSync(dir)
      .map((f) => path.join(dir, f))
      .filter((f) => fs.readFileSync(f, "utf8").includes(inv.id));
    expect(mine).toHaveLength(1);
    const eml = fs.readFileSync(mine[0]!, "utf8");
    expect(eml).toMatch(new RegExp(`^To: ${invitee.replace(/[.+]/g, "\\$&")}$`, "m"));
    expect(eml).toContain(`/invite/${inv.id}`);
    expect(fs.statSync(mine[0]!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(logFile, "utf8")).not.toContain(inv.id);
  });
});
