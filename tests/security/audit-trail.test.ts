import fs from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runCli } from "../support/stack";
import { acceptAs, actionFrom, createOrgAs, decodeQuotedPrintable, freshAddress, inviteAs, keysAction, linkIn, membersAction, newPerson, uniqueEmail, type Person } from "./auth-support";

/**
 * Attack: changing an org's security posture without a trace (docs/security.md, "Audit trail"),
 * through the web UI's server actions against the built server. An admin adds a webhook (where the
 * org's events leave the platform: an insider's exfiltration path) and removes it again; an owner
 * withdraws an invitation; someone with the mailbox of a member resets that member's password.
 * Each shows in the org's trail, read over REST by the owner, with who, from where and what (a
 * webhook as its origin only, never its path, query or secret), and the chain still verifies.
 */
const base = inject("baseUrl");
const dataDir = inject("dataDir");

const form = (fields: Record<string, string>) => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
};

function webhooksAction(p: Person, org: string, name: string, args: unknown[]) {
  return actionFrom(base, p.from, { page: `/orgs/${org}/settings/webhooks`, file: "app/orgs/[org]/settings/webhooks/actions.ts", name, args, cookie: p.cookie });
}

async function ownerKey(owner: Person, org: string): Promise<string> {
  const r = await keysAction(base, owner, org, "createApiKeyAction", [org, { role: "admin", label: "audit reader" }]);
  if (typeof r.value?.data?.apiKey !== "string") throw new Error(`create API key failed: ${JSON.stringify(r.value)}`);
  return r.value.data.apiKey as string;
}

async function trail(org: string, key: string, action?: string): Promise<Array<Record<string, any>>> {
  const r = await fetch(`${base}/integrations/${org}/audit?limit=500${action ? `&action=${action}` : ""}`, { headers: { "x-api-key": key } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { events: Array<Record<string, any>> }).events;
}

describe("posture changes through the web UI leave events", () => {
  it("an admin's webhook, added and removed again, is in the trail with who, from where and the URL's origin only", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const insider = await newPerson(base);
    expect((await acceptAs(base, insider, (await inviteAs(base, owner, org, insider.email, "admin")).token)).redirect).toBe(`/orgs/${org}/integrations`);

    // The suite's server allows loopback receivers (WEBHOOK_ALLOW_PRIVATE=1); nothing listens there.
    const url = "http://127.0.0.1:9/collect/cnry-wh-path?token=cnry-wh-query";
    const created = await webhooksAction(insider, org, "createWebhookAction", [org, { url, events: ["integration.created", "integration.replaced"] }]);
    expect(created.value).toMatchObject({ ok: true, data: { id: expect.stringMatching(/^wh_/) } });
    const { id, secret } = created.value.data as { id: string; secret: string };
    const refused = await webhooksAction(insider, org, "createWebhookAction", [org, { url: "ftp://127.0.0.1/cnry-wh-ftp", events: ["integration.created"] }]);
    expect(refused.value).toMatchObject({ ok: false, error: { code: "invalid_request" } });
    expect((await webhooksAction(insider, org, "deleteWebhookAction", [org, id])).value).toMatchObject({ ok: true });

    const key = await ownerKey(owner, org);
    const creates = await trail(org, key, "webhook.create");
    const deletes = await trail(org, key, "webhook.delete");
    const who = { type: "user", email: insider.email };
    expect(creates).toEqual([
      expect.objectContaining({ actor: expect.objectContaining(who), outcome: "invalid_request", target: "(ftp://127.0.0.1)", client_ip: insider.from }),
      expect.objectContaining({ actor: expect.objectContaining(who), outcome: "ok", target: `${id} (http://127.0.0.1:9)`, client_ip: insider.from }),
    ]);
    expect(deletes).toEqual([expect.objectContaining({ actor: expect.objectContaining(who), outcome: "ok", target: `${id} (http://127.0.0.1:9)`, client_ip: insider.from })]);
    const text = JSON.stringify([...creates, ...deletes]);
    for (const s of ["cnry-wh", "collect", secret, secret.slice(6, 30)]) expect(text).not.toContain(s);
  });

  it("an owner's withdrawn invitation, and a member's password reset from another machine, are in the trail", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const member = await newPerson(base);
    expect((await acceptAs(base, member, (await inviteAs(base, owner, org, member.email, "viewer")).token)).redirect).toBe(`/orgs/${org}/integrations`);

    const invitee = uniqueEmail("withdrawn");
    const pending = await inviteAs(base, owner, org, invitee, "admin");
    expect((await membersAction(base, owner, org, "cancelInvitationAction", [org, pending.id])).value).toMatchObject({ ok: true });
    expect((await membersAction(base, member, org, "cancelInvitationAction", [org, pending.id])).value).toMatchObject({ ok: false, error: { code: "forbidden" } });

    // Someone who reads the member's mailbox asks for a reset and sets a password from their own machine.
    const mailbox = path.join(dataDir, "outbox");
    const before = new Set(fs.existsSync(mailbox) ? fs.readdirSync(mailbox) : []);
    const attacker = freshAddress();
    const req = await actionFrom(base, attacker, { page: "/forgot-password", file: "actions/auth.ts", name: "requestPasswordResetAction", args: [null, form({ email: member.email })] });
    expect(req.value.notice).toMatch(/If an account exists for/);
    const mail = fs
      .readdirSync(mailbox)
      .filter((f) => !before.has(f))
      .map((f) => decodeQuotedPrintable(fs.readFileSync(path.join(mailbox, f), "utf8")))
      .find((m) => m.includes(`To: ${member.email}`) && m.includes("/reset-password?token="));
    const token = new URL(linkIn(mail!, /http:\/\/[^\s]+\/reset-password\?token=[A-Za-z0-9_-]+/)!).searchParams.get("token")!;
    const reset = await actionFrom(base, attacker, { page: "/reset-password", file: "actions/auth.ts", name: "resetPasswordAction", args: [null, form({ token, password: "taken over by mail 1" })] });
    expect(reset.redirect).toBe("/sign-in?reset=1");
    const replay = await actionFrom(base, freshAddress(), { page: "/reset-password", file: "actions/auth.ts", name: "resetPasswordAction", args: [null, form({ token, password: "taken over again 22" })] });
    expect(replay.value.error).toMatch(/invalid, expired or already used/);

    const key = await ownerKey(owner, org);
    expect(await trail(org, key, "invitation.cancel")).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ type: "user", email: member.email }), outcome: "forbidden", target: null }),
      expect.objectContaining({ actor: expect.objectContaining({ type: "user", email: owner.email }), outcome: "ok", target: `${invitee} (admin)`, client_ip: owner.from }),
    ]);
    const resets = await trail(org, key, "password.reset");
    expect(resets).toEqual([expect.objectContaining({ actor: expect.objectContaining({ type: "user", email: member.email }), outcome: "ok", client_ip: attacker })]);
    const all = JSON.stringify(await trail(org, key));
    for (const s of [pending.id, pending.token, token, "taken over"]) expect(all).not.toContain(s);

    const verify = runCli(dataDir, ["audit", "verify", "--org", org, "--json"]);
    expect(verify.status, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, orgs: [{ org, ok: true }] });
  });
});
