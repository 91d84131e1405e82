import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack";
import {
  acceptAs,
  actionFrom,
  createOrgAs,
  freshAddress,
  httpFrom,
  inviteAs,
  linkIn,
  membersOf,
  newPerson,
  PASSWORD,
  signInFrom,
  signUpFrom,
  startSmtpCapture,
  uniqueEmail,
  waitFor,
  type CapturedMail,
} from "./auth-support";

/**
 * Mail as a real component (docs/security.md, "Mail"): a server of its own with SMTP_URL pointing
 * at a real SMTP server (the `smtp-server` package) in this process, which keeps every message
 * with its envelope. Attack: a viewer who learns an invitation id signs up as the invited address
 * (which they do not own) and accepts. With SMTP configured, accepting needs an address confirmed
 * by mail, and only the owner of the mailbox gets that link.
 */
const PORT = Number(process.env.SECURITY_MAIL_PORT ?? 8251);
let stack: Stack;
let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
let base: string;

beforeAll(async () => {
  smtp = await startSmtpCapture();
  stack = await startStack({
    port: PORT,
    cloudPortBase: PORT + 100,
    env: { SMTP_URL: smtp.url, MAIL_FROM: "Credential manager <cm@example.test>", BETTER_AUTH_URL: `http://127.0.0.1:${PORT}` },
  });
  base = stack.baseUrl;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

const mailTo = (email: string, re: RegExp) => () => smtp.messages.find((m) => m.to.includes(email.toLowerCase()) && re.test(m.raw));
const linkFor = (m: CapturedMail, re: RegExp) => {
  const l = linkIn(m.raw, re);
  if (!l) throw new Error(`no link in: ${m.raw}`);
  return l;
};

describe("mail over SMTP", () => {
  it("the invitation link goes to the invited address only, and to no log, page or other mailbox", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const invitee = uniqueEmail("invitee");
    const inv = await inviteAs(base, owner, org, invitee, "admin");
    expect(inv.mail).toBe("smtp");
    const mail = await waitFor(mailTo(invitee, /\/invite\//), "the invitation mail");
    expect(mail.to).toEqual([invitee]);
    expect(mail.from).toBe("cm@example.test");
    expect(linkFor(mail, /http:\/\/[^\s]+\/invite\/[A-Za-z0-9_.-]+/)).toBe(`${base}/invite/${inv.token}`);
    expect(mail.raw).toMatch(/^Subject: You are invited to /m);

    // Every other message (the owner's own verification mail …) and the log are free of it.
    const elsewhere = smtp.messages.filter((m) => m !== mail);
    expect(elsewhere.length).toBeGreaterThan(0);
    for (const m of elsewhere) expect(m.raw).not.toContain(inv.id);
    const log = fs.readFileSync(stack.logFile, "utf8");
    expect(log).not.toContain(inv.id);
    expect(log).not.toContain(inv.token);
    expect(log).toContain('"mail":"invitation"');
    // No outbox when mail really goes out.
    expect(fs.existsSync(`${stack.dataDir}/outbox`)).toBe(false);
  });

  it("signing up as the invited address is not enough: accepting needs the address confirmed by mail", async () => {
    const owner = await newPerson(base);
    const org = await createOrgAs(base, owner);
    const victim = uniqueEmail("victim");
    const inv = await inviteAs(base, owner, org, victim, "admin");

    // The attacker has the id (leaked, say) and registers the victim's address.
    const attackerMachine = freshAddress();
    const attacker = await signUpFrom(base, attackerMachine, victim, "attacker's own password");
    expect(attacker.cookie).not.toBeNull();
    const attempt = await actionFrom(base, attackerMachine, { page: `/invite/${inv.token}`, file: "actions/auth.ts", name: "acceptInvitationAction", args: [inv.token], cookie: attacker.cookie! });
    expect(attempt.redirect).toBeNull();
    expect(attempt.value.error).toMatch(/^Confirm .* first: open the link we mailed to it/);
    expect((await membersOf(base, owner, org)).map((m) => m.email)).not.toContain(victim);
    const page = await httpFrom(base, attackerMachine, "GET", `/invite/${inv.token}`, { headers: { cookie: attacker.cookie! } });
    expect(page.text).toContain("Confirm your email address first");
    // The confirmation link went to the victim's mailbox, which the attacker cannot read; asking
    // for it again sends it there again, never to the asker.
    const verification = await waitFor(mailTo(victim, /\/verify-email\?token=/), "the verification mail");
    expect(verification.to).toEqual([victim]);
    const before = smtp.messages.length;
    const resend = await actionFrom(base, attackerMachine, { page: `/invite/${inv.token}`, file: "actions/auth.ts", name: "resendVerificationAction", args: [], cookie: attacker.cookie! });
    expect(resend.value).toEqual({ notice: `We sent a new confirmation link to ${victim}.` });
    const again = await waitFor(() => smtp.messages.slice(before).find((m) => /\/verify-email\?token=/.test(m.raw)), "the second verification mail");
    expect(again.to).toEqual([victim]);

    // The real owner of the address takes it back: a reset by mail ends the attacker's sessions and password.
    const victimMachine = freshAddress();
    const req = await actionFrom(base, victimMachine, { page: "/forgot-password", file: "actions/auth.ts", name: "requestPasswordResetAction", args: [null, form({ email: victim })] });
    expect(req.value.notice).toMatch(/If an account exists for/);
    const resetMail = await waitFor(mailTo(victim, /\/reset-password\?token=/), "the reset mail");
    const resetLink = linkFor(resetMail, /http:\/\/[^\s]+\/reset-password\?token=[A-Za-z0-9_-]+/);
    const token = new URL(resetLink).searchParams.get("token")!;
    expect((await httpFrom(base, victimMachine, "GET", new URL(resetLink).pathname + new URL(resetLink).search)).status).toBe(200);
    const reset = await actionFrom(base, victimMachine, { page: "/reset-password", file: "actions/auth.ts", name: "resetPasswordAction", args: [null, form({ token, password: PASSWORD })] });
    expect(reset.redirect).toBe("/sign-in?reset=1");
    const stale = await actionFrom(base, attackerMachine, { page: `/invite/${inv.token}`, file: "actions/auth.ts", name: "acceptInvitationAction", args: [inv.token], cookie: attacker.cookie! });
    expect(stale.redirect).toMatch(/^\/sign-in\?next=/); // the attacker's session is gone
    expect((await signInFrom(base, attackerMachine, victim, "attacker's own password")).cookie).toBeNull();
    // The token was single-use.
    const replay = await actionFrom(base, attackerMachine, { page: "/reset-password", file: "actions/auth.ts", name: "resetPasswordAction", args: [null, form({ token, password: "attacker again 123" })] });
    expect(replay.value.error).toMatch(/invalid, expired or already used/);

    // The victim signs in, confirms the address from their mailbox, and joins.
    const session = await signInFrom(base, victimMachine, victim, PASSWORD);
    expect(session.cookie).not.toBeNull();
    const verifyLink = linkFor(verification, /http:\/\/[^\s]+\/verify-email\?token=[A-Za-z0-9_.-]+/);
    const verified = await httpFrom(base, victimMachine, "GET", new URL(verifyLink).pathname + new URL(verifyLink).search);
    expect(verified.text).toContain("Your email address is confirmed");
    const joined = await acceptAs(base, { email: victim, cookie: session.cookie!, from: victimMachine }, inv.token);
    expect(joined.redirect).toBe(`/orgs/${org}/integrations`);
    expect((await membersOf(base, owner, org)).find((m) => m.email === victim)?.role).toBe("admin");
  });

  it("a forged or garbled verification token confirms nothing", async () => {
    const from = freshAddress();
    for (const token of ["garbage", "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6Im1hbGxvcnlAZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJlLWZvcmdlZA", ""]) {
      const r = await httpFrom(base, from, "GET", `/verify-email?token=${encodeURIComponent(token)}`);
      expect(r.status).toBe(200);
      expect(r.text).toContain("This confirmation link is not valid");
    }
  });

  it("a reset request for an unknown address answers the same and mails nobody; requests per recipient are limited", async () => {
    const from = freshAddress();
    const before = smtp.messages.length;
    const unknown = uniqueEmail("nobody");
    const r = await actionFrom(base, from, { page: "/forgot-password", file: "actions/auth.ts", name: "requestPasswordResetAction", args: [null, form({ email: unknown })] });
    expect(r.value.notice).toBe(`If an account exists for ${unknown}, we sent it a link to choose a new password (valid 1 hour).`);
    await new Promise((res) => setTimeout(res, 300));
    expect(smtp.messages.slice(before).filter((m) => m.to.includes(unknown))).toEqual([]);

    // Mail bombing one mailbox: 3 an hour, from anywhere.
    const target = await newPerson(base);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push((await actionFrom(base, freshAddress(), { page: "/forgot-password", file: "actions/auth.ts", name: "requestPasswordResetAction", args: [null, form({ email: target.email })] })).value);
    }
    expect(answers.slice(0, 3).every((a) => typeof a.notice === "string")).toBe(true);
    expect(answers[3].error).toMatch(/Too many reset requests/);
  });
});

function form(fields: Record<string, string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}
