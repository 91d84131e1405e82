import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtpFake, type SmtpFake } from "@/tests/fakes/smtp";
import { parseEnv, type Env } from "../env";
import { AppError } from "../errors";
import { createDeps, type CoreDeps } from "../deps";
import { getAccounts, getReadyAuth } from "./accounts";
import { createUserOrganization, inviteMember, listOrgMembers } from "./org-accounts";
import type { Actor } from "./actor";

/**
 * Mail the user waits for (verification, reset, invitation) when the SMTP server is down: sent
 * inline, never queued; the user is told where that reveals nothing, and nothing is left half done.
 */
let dir: string;
let env: Env;
let deps: CoreDeps;
let port: number;
let smtp: SmtpFake | null = null;

beforeAll(async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r)); // nothing listens there: the SMTP server is down
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-account-mail-"));
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent", SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: "cm@example.com" });
  deps = createDeps(env, { log: pino({ level: "silent" }) });
  await getAccounts(env).ready;
});

afterAll(async () => {
  await smtp?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function signUp(email: string): Promise<{ actor: Actor; headers: Headers }> {
  const auth = await getReadyAuth(env);
  const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: email.split("@")[0]! }, returnHeaders: true });
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return { actor: { kind: "user", userId: r.response.user.id, email }, headers: new Headers({ cookie }) };
}

describe("interactive mail with the SMTP server down", () => {
  it("sign-up succeeds; asking for the confirmation link again says the mail failed; a reset request answers as for an unknown address", async () => {
    const ann = await signUp("ann@example.com"); // its confirmation mail fails: the account stands
    expect(ann.actor).toMatchObject({ kind: "user" });
    const auth = await getReadyAuth(env);
    const err = await auth.api.sendVerificationEmail({ body: { email: "ann@example.com" } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "internal", message: expect.stringMatching(/^The mail could not be sent/) });
    // Reset: the same answer for a known account whose mail failed and for no account at all.
    const known = await auth.api.requestPasswordReset({ body: { email: "ann@example.com" } });
    const unknown = await auth.api.requestPasswordReset({ body: { email: "nobody@example.com" } });
    expect(known).toEqual(unknown);
  });

  it("an invitation whose mail failed exists, says so, and its link stays with the admin", async () => {
    const owner = await signUp("owner@example.com");
    await createUserOrganization({ actor: owner.actor, input: { name: "Acme", slug: "acme" }, reqHeaders: owner.headers }, deps);
    const inv = await inviteMember({ actor: owner.actor, org: "acme", input: { email: "bob@example.com", role: "viewer" }, reqHeaders: owner.headers }, deps);
    expect(inv.mail).toBe("failed");
    const { invitations } = await listOrgMembers({ actor: owner.actor, org: "acme" }, deps);
    expect(invitations).toEqual([expect.objectContaining({ id: inv.id, token: inv.token, email: "bob@example.com", role: "viewer" })]);
  });

  it("with the server back, the same request sends the link", async () => {
    smtp = await startSmtpFake({ port });
    const auth = await getReadyAuth(env);
    await expect(auth.api.sendVerificationEmail({ body: { email: "ann@example.com" } })).resolves.toEqual({ status: true });
    expect(smtp.messages.map((m) => m.to)).toEqual([["ann@example.com"]]);
    expect(smtp.messages[0]!.raw).toMatch(/Subject: Confirm your email address/);
  });
});
