import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv, type Env } from "../env";
import { AppError } from "../errors";
import { createDeps, type CoreDeps } from "../deps";
import { getAccounts, getReadyAuth } from "../auth/accounts";
import type { Actor } from "../auth/actor";
import { createOrgApiKey } from "../auth/organizations";
import { acceptInvitation, cancelInvitation, createUserOrganization, inviteMember, removeMember, updateMemberRole, listOrgMembers } from "../auth/org-accounts";
import type { AuditEvent } from "./events";
import { listAuditEvents } from "./list-audit-events";
import { recordFailedSignIn } from "./record-sign-in-failure";
import { resetAccountPassword } from "../auth/reset-password";
import { outboxDir } from "../mail";

/**
 * Member, invitation and sign-in events through the real accounts layer (Better Auth on SQLite):
 * invite, accept (and a refused accept), role change, removal, the API keys revoked with a demoted
 * or removed member, a viewer's refused invite, and failed sign-ins.
 */
let dir: string;
let env: Env;
let deps: CoreDeps;
const CLI: Actor = { kind: "system", name: "cli" };

async function signUp(email: string): Promise<{ actor: Actor; headers: Headers }> {
  const auth = await getReadyAuth(env);
  const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: email.split("@")[0]! }, returnHeaders: true });
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return { actor: { kind: "user", userId: r.response.user.id, email, clientIp: "198.51.100.20" }, headers: new Headers({ cookie }) };
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

type Person = Awaited<ReturnType<typeof signUp>>;
const newOrg = (owner: Person, slug: string) => createUserOrganization({ actor: owner.actor, input: { name: `Org ${slug}`, slug }, reqHeaders: owner.headers }, deps);
const invite = (by: Person, org: string, email: string, role: "admin" | "viewer") => inviteMember({ actor: by.actor, org, input: { email, role }, reqHeaders: by.headers }, deps);
/** `member` joins `org` by an invitation from `owner`. */
async function join(owner: Person, org: string, member: Person & { email: string }, role: "admin" | "viewer"): Promise<void> {
  await acceptInvitation({ actor: member.actor, token: (await invite(owner, org, member.email, role)).token, reqHeaders: member.headers }, deps);
}

const events = async (org: string): Promise<AuditEvent[]> => (await listAuditEvents({ actor: CLI, org, query: { limit: 500 } }, deps)).events;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-audit-members-"));
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent" });
  deps = createDeps(env, { log: pino({ level: "silent" }) });
  await getAccounts(env).ready;
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("member and sign-in events", () => {
  it("invite, accept, role change with the keys it revoked, removal, refusals, failed sign-ins", async () => {
    const ann = await signUp("ann@example.com");
    const bob = await signUp("bob@example.com");
    const eve = await signUp("eve@example.com");
    await createUserOrganization({ actor: ann.actor, input: { name: "Members Inc", slug: "members" }, reqHeaders: ann.headers }, deps);

    const inv = await inviteMember({ actor: ann.actor, org: "members", input: { email: "bob@example.com", role: "admin" }, reqHeaders: ann.headers }, deps);
    expect(await codeOf(acceptInvitation({ actor: eve.actor, token: inv.token, reqHeaders: eve.headers }, deps))).toBe("forbidden");
    await acceptInvitation({ actor: bob.actor, token: inv.token, reqHeaders: bob.headers }, deps);
    const bobsKey = await createOrgApiKey({ actor: bob.actor, org: "members", role: "viewer" }, deps);
    const bobMember = (await listOrgMembers({ actor: ann.actor, org: "members" }, deps)).members.find((m) => m.email === "bob@example.com")!;
    await updateMemberRole({ actor: ann.actor, org: "members", memberId: bobMember.id, role: "viewer", reqHeaders: ann.headers }, deps);
    expect(await codeOf(inviteMember({ actor: bob.actor, org: "members", input: { email: "x@example.com", role: "viewer" }, reqHeaders: bob.headers }, deps))).toBe("forbidden");
    await removeMember({ actor: ann.actor, org: "members", memberId: bobMember.id, reqHeaders: ann.headers }, deps);
    // eve is no member: her refused invite is not written into this org's trail.
    expect(await codeOf(inviteMember({ actor: eve.actor, org: "members", input: { email: "y@example.com", role: "viewer" }, reqHeaders: eve.headers }, deps))).toBe("org_not_found");

    await recordFailedSignIn({ email: "ann@example.com", clientIp: "203.0.113.66" }, deps);
    await recordFailedSignIn({ email: "nobody@example.com", clientIp: "203.0.113.66" }, deps);
    await recordFailedSignIn({ email: "eve@example.com", clientIp: "203.0.113.66" }, deps); // in no org

    const es = await events("members");
    expect(es.map((e) => [e.action, e.outcome, e.actor.type === "user" ? e.actor.email : e.actor.type, e.target])).toEqual([
      ["sign_in.failed", "unauthenticated", "ann@example.com", null],
      ["member.remove", "ok", "ann@example.com", "bob@example.com (viewer)"],
      ["member.invite", "forbidden", "bob@example.com", null],
      ["member.role_change", "ok", "ann@example.com", "bob@example.com (admin → viewer)"],
      ["api_key.revoke", "ok", "ann@example.com", `${bobsKey.key.id}, created by bob@example.com (admin → viewer)`],
      ["api_key.create", "ok", "bob@example.com", `${bobsKey.key.id} (viewer)`],
      ["invitation.accept", "ok", "bob@example.com", "bob@example.com (admin)"],
      ["invitation.accept", "forbidden", "eve@example.com", "bob@example.com (admin)"],
      ["member.invite", "ok", "ann@example.com", "bob@example.com (admin)"],
    ]);
    expect(es[0]).toMatchObject({ client_ip: "203.0.113.66", actor: { type: "user", email: "ann@example.com" } });
    expect(es[1]).toMatchObject({ client_ip: "198.51.100.20", provider: null, fingerprint_before: null, fingerprint_after: null });
    expect(JSON.stringify(es)).not.toContain(inv.id); // the invitation id is a bearer secret (the link)
    expect(JSON.stringify(es)).not.toContain(bobsKey.apiKey.slice(17));
  });

  it("invitation.cancel: who withdrew which invitation (email and role, never the link's id); a viewer's, an unknown and another org's invitation are refusals", async () => {
    const dan = await signUp("dan@example.com");
    const vic = await signUp("vic@example.com");
    const olga = await signUp("olga@example.com");
    await newOrg(dan, "cancels");
    await newOrg(olga, "cancels-other");
    await join(dan, "cancels", { ...vic, email: "vic@example.com" }, "viewer");
    const inv = await invite(dan, "cancels", "carl@example.com", "admin");
    const elsewhere = await invite(olga, "cancels-other", "zed@example.com", "admin");

    const cancel = (who: { actor: Actor; headers: Headers }, invitationId: string) => codeOf(cancelInvitation({ actor: who.actor, org: "cancels", invitationId, reqHeaders: who.headers }, deps));
    expect(await cancel(vic, inv.id)).toBe("forbidden");
    expect(await cancel(dan, "no-such-invitation")).toBe("not_found");
    expect(await cancel(dan, elsewhere.id)).toBe("not_found");
    expect(await cancel(dan, inv.id)).toBe("ok");

    const es = (await events("cancels")).filter((e) => e.action === "invitation.cancel");
    expect(es.map((e) => [e.outcome, e.actor.type === "user" ? e.actor.email : e.actor.type, e.target])).toEqual([
      ["ok", "dan@example.com", "carl@example.com (admin)"],
      ["not_found", "dan@example.com", null],
      ["not_found", "dan@example.com", null],
      ["forbidden", "vic@example.com", null],
    ]);
    expect(es[0]).toMatchObject({ client_ip: "198.51.100.20", provider: null });
    const text = JSON.stringify(await events("cancels"));
    for (const id of [inv.id, inv.token, elsewhere.id]) expect(text).not.toContain(id);
    expect(text).not.toContain("zed@example.com"); // another org's invitation says nothing here
    expect((await events("cancels-other")).map((e) => e.action)).toEqual(["member.invite"]);
  });

  it("password.reset: a completed reset is recorded in each org of the account (the account as actor, the client address); a refused token nowhere", async () => {
    const pat = await signUp("pat@example.com");
    const quinn = await signUp("quinn@example.com");
    await newOrg(pat, "reset-one");
    await newOrg(quinn, "reset-two");
    await join(quinn, "reset-two", { ...pat, email: "pat@example.com" }, "viewer");

    const auth = await getReadyAuth(env);
    const before = new Set(fs.readdirSync(outboxDir(env)));
    await auth.api.requestPasswordReset({ body: { email: "pat@example.com" } });
    const mail = fs.readdirSync(outboxDir(env)).filter((f) => !before.has(f)).map((f) => fs.readFileSync(path.join(outboxDir(env), f), "utf8")).join("\n");
    // The body is quoted-printable (RFC 2045, 6.7): soft line breaks "=\n", "=" written as "=3D".
    const text = mail.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    const token = /reset-password\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
    expect(token).toBeDefined();

    await resetAccountPassword({ token: token!, newPassword: "a brand new password", clientIp: "203.0.113.77" }, deps);
    expect(await codeOf(resetAccountPassword({ token: token!, newPassword: "someone else's try", clientIp: "203.0.113.78" }, deps))).not.toBe("ok");
    expect(await codeOf(resetAccountPassword({ token: "not-a-real-token-at-all", newPassword: "someone else's try", clientIp: "203.0.113.78" }, deps))).not.toBe("ok");

    for (const org of ["reset-one", "reset-two"]) {
      const resets = (await events(org)).filter((e) => e.action === "password.reset");
      expect(resets, org).toEqual([
        expect.objectContaining({ org, actor: { type: "user", id: (pat.actor as { userId: string }).userId, email: "pat@example.com" }, outcome: "ok", client_ip: "203.0.113.77", target: null }),
      ]);
      expect(JSON.stringify(await events(org))).not.toContain(token!);
    }
    expect((await events("members")).map((e) => e.action)).not.toContain("password.reset"); // pat is not in that org
  });
});
