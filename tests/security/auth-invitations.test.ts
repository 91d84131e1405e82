import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, inject, it } from "vitest";
import { acceptAs, createOrgAs, decodeQuotedPrintable, filesUnder, httpFrom, inviteAs, keysAction, membersAction, membersOf, newPerson, uniqueEmail } from "./auth-support";

/**
 * Attack: a viewer becomes an admin (docs/security.md, "Invitation links"). Pending invitation
 * ids reached every member; a viewer signed up as the invited address, accepted, and created
 * admin API keys. The suite's server has no SMTP_URL: invitations go to the outbox.
 */
const base = inject("baseUrl");
const dataDir = inject("dataDir");
const logFile = inject("logFile");
const randomToken = () => `${crypto.randomBytes(24).toString("base64url").slice(0, 32)}.${crypto.randomBytes(32).toString("base64url")}`;

describe("invitation links are bearer secrets: only owners and admins see them", () => {
  it("a viewer's members page (HTML and RSC payload) and listMembersAction never carry a pending invitation's id or link", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const viewer = await newPerson(base);
    const v = await inviteAs(base, owner, org, viewer.email, "viewer");
    expect((await acceptAs(base, viewer, v.token)).redirect).toBe(`/orgs/${org}/integrations`);
    // The invitation the viewer would like to steal: an admin seat for an address they might register.
    const pending = await inviteAs(base, owner, org, uniqueEmail("future-admin"), "admin");

    // Control: the owner does see it, so the checks below can see it too.
    const asOwner = await membersAction(base, owner, org, "listMembersAction", [org]);
    expect(asOwner.text).toContain(pending.token);
    const ownerPage = await httpFrom(base, owner.from, "GET", `/orgs/${org}/settings/members`, { headers: { cookie: owner.cookie } });
    expect(ownerPage.text).toContain(pending.token);

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
    await acceptAs(base, viewer, (await inviteAs(base, owner, org, viewer.email, "viewer")).token);
    const adminSeat = await inviteAs(base, owner, org, uniqueEmail("someone"), "admin");

    // Guessing well-formed links: every guess is "does not exist", nothing changes.
    for (let i = 0; i < 20; i++) {
      const r = await acceptAs(base, viewer, randomToken());
      expect(r.status).toBe(200);
      expect(r.redirect).toBeNull();
      expect(r.value).toMatchObject({ error: "This invitation does not exist." });
    }
    // Even holding the real link, the invitation is for another address.
    const stolen = await acceptAs(base, viewer, adminSeat.token);
    expect(stolen.redirect).toBeNull();
    expect(stolen.value.error).toMatch(/This invitation is for .*sign in with that address/);
    expect((await membersOf(base, owner, org)).find((m) => m.email === viewer.email)?.role).toBe("viewer");
    const key = await keysAction(base, viewer, org, "createApiKeyAction", [org, { role: "admin" }]);
    expect(key.value).toMatchObject({ ok: false, error: { code: "forbidden" } });
  });

  it("a copy of the database is not enough: the invitation id it holds does not open the invitation", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const intruder = uniqueEmail("db-reader");
    const inv = await inviteAs(base, owner, org, intruder, "admin");
    const db = new Database(path.join(dataDir, "auth.sqlite"), { readonly: true, fileMustExist: true });
    let ids: string[];
    try {
      ids = (db.prepare("SELECT id FROM invitation WHERE email = ? AND status = 'pending'").all(intruder) as Array<{ id: string }>).map((r) => r.id);
    } finally {
      db.close();
    }
    expect(ids).toEqual([inv.id]);
    // Whoever read it signs up as that address (no SMTP here: no confirmation needed) and tries.
    const reader = await newPerson(base, intruder);
    const page = await httpFrom(base, reader.from, "GET", `/invite/${inv.id}`, { headers: { cookie: reader.cookie } });
    expect(page.text).toContain("This invitation link is not valid");
    for (const forged of [inv.id, `${inv.id}.${crypto.randomBytes(32).toString("base64url")}`, `${inv.id}.${inv.token.split(".")[1]!.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`]) {
      const r = await acceptAs(base, reader, forged);
      expect(r.redirect, forged).toBeNull();
      expect(r.value.error, forged).toMatch(/does not exist|link is not valid/);
    }
    expect((await membersOf(base, owner, org)).map((m) => m.email)).not.toContain(intruder);
    // The link itself is in no data file but the mail in the outbox.
    for (const f of filesUnder(dataDir)) {
      if (f.includes(`${path.sep}outbox${path.sep}`)) continue;
      expect(fs.readFileSync(f).includes(Buffer.from(inv.token)), f).toBe(false);
    }
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
      .filter((f) => decodeQuotedPrintable(fs.readFileSync(f, "utf8")).includes(inv.token));
    expect(mine).toHaveLength(1);
    const eml = decodeQuotedPrintable(fs.readFileSync(mine[0]!, "utf8"));
    expect(eml).toMatch(new RegExp(`^To: ${invitee.replace(/[.+]/g, "\\$&")}$`, "m"));
    expect(eml).toContain(`/invite/${inv.token}`);
    expect(fs.statSync(mine[0]!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const log = fs.readFileSync(logFile, "utf8");
    expect(log).not.toContain(inv.id);
    expect(log).not.toContain(inv.token);
  });
});
