import fs from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { actionFrom, createOrgAs, newPerson } from "./auth-support";

/**
 * Attack: bad action payloads answered 500 (docs/security.md, "Server-action arguments"). A server
 * action is a public endpoint taking whatever the caller encodes; every action of the accounts side
 * (actions/auth.ts, actions/members.ts, actions/api-keys.ts) parses its arguments with zod first.
 * A bad argument gets a 200 with a plain error value naming it; nothing is logged as unexpected.
 */
const base = inject("baseUrl");
const logFile = inject("logFile");

const BAD_VALUES: unknown[] = [{ slug: "x" }, ["a", "b"], 42, null, true, "x".repeat(5000)];

describe("every accounts action parses its arguments at the boundary", () => {
  it("object, array, number, null where a slug or id belongs: invalid_request naming the argument, never 500", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const logBefore = fs.readFileSync(logFile, "utf8").length;
    const members = (file: string, name: string, page: string, args: unknown[]) => actionFrom(base, owner.from, { page, file, name, args, cookie: owner.cookie });
    const mp = `/orgs/${org}/settings/members`;
    const kp = `/orgs/${org}/settings/api-keys`;
    const cases: Array<{ name: string; page: string; file: string; args: (bad: unknown) => unknown[]; field: string }> = [
      { name: "listMembersAction", page: mp, file: "actions/members.ts", args: (b) => [b], field: "org" },
      { name: "inviteMemberAction", page: mp, file: "actions/members.ts", args: (b) => [b, { email: "a@example.com", role: "viewer" }], field: "org" },
      { name: "inviteMemberAction", page: mp, file: "actions/members.ts", args: (b) => [org, b], field: "input" },
      { name: "cancelInvitationAction", page: mp, file: "actions/members.ts", args: (b) => [org, b], field: "invitationId" },
      { name: "updateMemberRoleAction", page: mp, file: "actions/members.ts", args: (b) => [org, b, "viewer"], field: "memberId" },
      { name: "updateMemberRoleAction", page: mp, file: "actions/members.ts", args: (b) => [b, "abcdefgh12", "viewer"], field: "org" },
      { name: "removeMemberAction", page: mp, file: "actions/members.ts", args: (b) => [org, b], field: "memberId" },
      { name: "listApiKeysAction", page: kp, file: "actions/api-keys.ts", args: (b) => [b], field: "org" },
      { name: "createApiKeyAction", page: kp, file: "actions/api-keys.ts", args: (b) => [b, { role: "viewer" }], field: "org" },
      { name: "revokeApiKeyAction", page: kp, file: "actions/api-keys.ts", args: (b) => [org, b], field: "keyId" },
    ];
    for (const c of cases) {
      for (const bad of BAD_VALUES) {
        const r = await members(c.file, c.name, c.page, c.args(bad));
        const what = `${c.name}(${c.field} = ${JSON.stringify(bad)?.slice(0, 40)})`;
        expect(r.status, what).toBe(200);
        expect(r.value, what).toMatchObject({ ok: false, error: { code: "invalid_request" } });
        expect(Object.keys(r.value.error.fields ?? {}).some((k) => k === c.field || k.startsWith(`${c.field}.`)), `${what}: ${JSON.stringify(r.value.error)}`).toBe(true);
      }
    }
    // The role argument too.
    const role = await members("actions/members.ts", "updateMemberRoleAction", mp, [org, "abcdefgh12", { role: "owner" }]);
    expect(role.value).toMatchObject({ ok: false, error: { code: "invalid_request", fields: { role: expect.any(String) } } });
    expect(fs.readFileSync(logFile, "utf8").slice(logBefore)).not.toContain("unexpected error in server action");
  });

  it("form actions called with something that is not a form answer an error value", async () => {
    const owner = await newPerson(base);
    const forms: Array<{ name: string; page: string }> = [
      { name: "signUpAction", page: "/sign-up" },
      { name: "signInAction", page: "/sign-in" },
      { name: "createOrganizationAction", page: "/orgs/new" },
      { name: "requestPasswordResetAction", page: "/forgot-password" },
      { name: "resetPasswordAction", page: "/forgot-password" },
    ];
    for (const f of forms) {
      for (const bad of [{ email: "a@example.com", password: "x" }, "email=a@example.com", 7, null]) {
        const r = await actionFrom(base, owner.from, { page: f.page, file: "actions/auth.ts", name: f.name, args: [null, bad], cookie: owner.cookie });
        expect(r.status, `${f.name}(${JSON.stringify(bad)})`).toBe(200);
        expect(r.value, `${f.name}(${JSON.stringify(bad)})`).toEqual({ error: "Bad request: this action takes a form submission." });
      }
    }
    for (const bad of [{ id: "x" }, 12, null, "../../etc", "abcdefgh12345678"]) {
      const r = await actionFrom(base, owner.from, { page: "/invite/abcdefgh", file: "actions/auth.ts", name: "acceptInvitationAction", args: [bad], cookie: owner.cookie });
      expect(r.status).toBe(200);
      expect(r.value).toMatchObject({ error: "Bad request: the invitation link is not valid.", fields: { token: expect.any(String) } });
    }
  });
});
