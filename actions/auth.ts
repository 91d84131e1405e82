"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { z } from "zod";
import { getReadyAuth, withAuthErrors } from "@/lib/auth/accounts";
import type { AttemptLimits } from "@/lib/auth/attempt-limits";
import { requestClientAddress } from "@/lib/auth/client-address";
import { acceptInvitation, createUserOrganization } from "@/lib/auth/org-accounts";
import { resetAccountPassword } from "@/lib/auth/reset-password";
import { getSession, getSessionActor } from "@/lib/auth/session";
import { getEnv } from "@/lib/env";
import { issuesToFields } from "@/lib/integrations/schemas";
import { recordFailedSignIn } from "@/lib/audit/record-sign-in-failure";
import { getDeps } from "@/lib/deps";
import { InvitationTokenArg } from "./args";
import { run, safeNext } from "./run";

/**
 * Accounts: sign up, sign in, sign out, password reset, address verification, create an
 * organization, accept an invitation. The form actions (useActionState) redirect on success and
 * return a plain error value otherwise. A password is never returned, logged or put back into the
 * form. Every argument is checked before use: a form action called with something that is not a
 * form gets an error value, not a crash.
 */

export type FormState = {
  error?: string;
  fields?: Record<string, string>;
  values?: Record<string, string>;
  /** A success message (forms that do not redirect). */
  notice?: string;
} | null;

const NOT_A_FORM: FormState = { error: "Bad request: this action takes a form submission." };

const email = z.string().trim().toLowerCase().email({ message: "must be an email address" }).max(254, { message: "is too long" });
const newPassword = z.string().min(10, { message: "must be at least 10 characters" }).max(128, { message: "must be at most 128 characters" });

const SignUpSchema = z.object({
  name: z.string().trim().min(1, { message: "is required" }).max(100, { message: "must be at most 100 characters" }),
  email,
  password: newPassword,
});

const SignInSchema = z.object({ email, password: z.string().min(1, { message: "is required" }).max(128) });
const ResetRequestSchema = z.object({ email });
const ResetSchema = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{8,200}$/, { message: "is not a valid reset link" }), password: newPassword });

function str(fd: FormData, k: string): string {
  const v = fd.get(k);
  return typeof v === "string" ? v : "";
}

async function clientAddress(): Promise<string> {
  return requestClientAddress(await headers(), getEnv().TRUSTED_PROXIES);
}

function inWords(seconds: number): string {
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

/**
 * Runs `fn` on the attempt budgets (lib/auth/attempt-limits.ts, `deps.attempts`) with the clock. A
 * store that cannot answer (Postgres, with AUTH_DATABASE_URL, down) is an error value like any
 * other failure of an action, and is logged.
 */
function withAttempts<T>(fn: (attempts: AttemptLimits, now: number) => Promise<T>) {
  return run(async () => {
    const deps = getDeps();
    return fn(deps.attempts, deps.now());
  });
}

export async function signUpAction(_prev: FormState, fd: FormData): Promise<FormState> {
  if (!(fd instanceof FormData)) return NOT_A_FORM;
  const values = { name: str(fd, "name"), email: str(fd, "email") };
  const parsed = SignUpSchema.safeParse({ ...values, password: str(fd, "password") });
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error), values };
  const client = await clientAddress();
  const wait = await withAttempts((attempts, now) => attempts.takeSignUpAttempt(client, now));
  if (!wait.ok) return { error: wait.error.message, values };
  if (wait.data > 0) return { error: `Too many new accounts from this address; try again in ${inWords(wait.data)}.`, values };
  const r = await run(async () => {
    const auth = await getReadyAuth(getEnv());
    const reqHeaders = await headers();
    await withAuthErrors(() => auth.api.signUpEmail({ body: parsed.data, headers: reqHeaders }));
  });
  if (!r.ok) {
    const taken = /already exists/i.test(r.error.message);
    return { error: taken ? "An account with this email already exists. Sign in instead." : r.error.message, values };
  }
  redirect(safeNext(str(fd, "next")));
}

export async function signInAction(_prev: FormState, fd: FormData): Promise<FormState> {
  if (!(fd instanceof FormData)) return NOT_A_FORM;
  const values = { email: str(fd, "email") };
  const parsed = SignInSchema.safeParse({ ...values, password: str(fd, "password") });
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error), values };
  // Failures only, per client address + account, with backoff (lib/auth/attempt-limits.ts). The
  // attempt is reserved before the password is checked, so parallel guesses cannot all pass.
  const client = await clientAddress();
  const wait = await withAttempts((attempts, now) => attempts.reserveSignIn(client, parsed.data.email, now));
  if (!wait.ok) return { error: wait.error.message, values };
  if (wait.data > 0) return { error: `Too many failed sign-ins; try again in ${inWords(wait.data)}.`, values };
  const r = await run(async () => {
    const auth = await getReadyAuth(getEnv());
    const reqHeaders = await headers();
    await withAuthErrors(() => auth.api.signInEmail({ body: parsed.data, headers: reqHeaders }));
  });
  // One message for unknown email and wrong password: do not reveal which accounts exist.
  if (!r.ok) {
    if (r.error.code !== "internal") {
      // Counted before the answer goes out, so the next attempt (on any instance) sees it.
      await withAttempts((attempts, now) => attempts.finishSignIn(client, parsed.data.email, "failed", now));
      // sign_in.failed in the account's orgs' audit trails; not awaited, so the answer takes as
      // long for an existing account as for an unknown address.
      void recordFailedSignIn({ email: parsed.data.email, clientIp: client }, getDeps());
    } else {
      await withAttempts((attempts, now) => attempts.finishSignIn(client, parsed.data.email, "unchecked", now));
    }
    return { error: r.error.code === "internal" ? r.error.message : "Wrong email or password.", values };
  }
  await withAttempts((attempts, now) => attempts.finishSignIn(client, parsed.data.email, "succeeded", now));
  redirect(safeNext(str(fd, "next")));
}

export async function signOutAction(): Promise<void> {
  const auth = await getReadyAuth(getEnv());
  try {
    await auth.api.signOut({ headers: await headers() });
  } catch {
    /* already signed out */
  }
  redirect("/sign-in");
}

/** "Forgot your password?": mails a single-use reset link (1 hour) if the account exists; the answer is the same either way. */
export async function requestPasswordResetAction(_prev: FormState, fd: FormData): Promise<FormState> {
  if (!(fd instanceof FormData)) return NOT_A_FORM;
  const values = { email: str(fd, "email") };
  const parsed = ResetRequestSchema.safeParse(values);
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error), values };
  const client = await clientAddress();
  const wait = await withAttempts((attempts, now) => attempts.takeMailRequest(client, parsed.data.email, now));
  if (!wait.ok) return { error: wait.error.message, values };
  if (wait.data > 0) return { error: `Too many reset requests; try again in ${inWords(wait.data)}.`, values };
  const r = await run(async () => {
    const auth = await getReadyAuth(getEnv());
    await withAuthErrors(() => auth.api.requestPasswordReset({ body: { email: parsed.data.email } }));
  });
  if (!r.ok && r.error.code === "internal") return { error: r.error.message, values };
  return { notice: `If an account exists for ${parsed.data.email}, we sent it a link to choose a new password (valid 1 hour).`, values };
}

/** The reset link's form: a new password for the token's account; every session of it ends. */
export async function resetPasswordAction(_prev: FormState, fd: FormData): Promise<FormState> {
  if (!(fd instanceof FormData)) return NOT_A_FORM;
  const parsed = ResetSchema.safeParse({ token: str(fd, "token"), password: str(fd, "password") });
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error) };
  const clientIp = await clientAddress();
  const r = await run(() => resetAccountPassword({ token: parsed.data.token, newPassword: parsed.data.password, clientIp }));
  if (!r.ok) {
    return { error: r.error.code === "internal" ? r.error.message : "This reset link is invalid, expired or already used. Ask for a new one." };
  }
  redirect("/sign-in?reset=1");
}

/** Mail the signed-in user a new address-verification link. */
export async function resendVerificationAction(): Promise<FormState> {
  const session = await getSession();
  if (!session) return { error: "Sign in first." };
  const client = await clientAddress();
  const wait = await withAttempts((attempts, now) => attempts.takeMailRequest(client, session.email, now));
  if (!wait.ok) return { error: wait.error.message };
  if (wait.data > 0) return { error: `Too many mails asked for; try again in ${inWords(wait.data)}.` };
  const r = await run(async () => {
    const auth = await getReadyAuth(getEnv());
    await withAuthErrors(() => auth.api.sendVerificationEmail({ body: { email: session.email } }));
  });
  if (!r.ok) return { error: r.error.message };
  return { notice: `We sent a new confirmation link to ${session.email}.` };
}

export async function createOrganizationAction(_prev: FormState, fd: FormData): Promise<FormState> {
  if (!(fd instanceof FormData)) return NOT_A_FORM;
  const values = { name: str(fd, "name"), slug: str(fd, "slug") };
  const actor = await getSessionActor();
  if (!actor) redirect("/sign-in?next=/orgs/new");
  const reqHeaders = await headers();
  const r = await run(() => createUserOrganization({ actor, input: values, reqHeaders }));
  if (!r.ok) return { error: r.error.message, fields: r.error.fields, values };
  redirect(`/orgs/${r.data.slug}/integrations`);
}

/** Accept the invitation of the link /invite/<token> (lib/auth/invitation-links.ts). */
export async function acceptInvitationAction(token: string): Promise<FormState> {
  const t = InvitationTokenArg.safeParse(token);
  if (!t.success) return { error: "Bad request: the invitation link is not valid.", fields: { token: t.error.issues[0]?.message ?? "is not valid" } };
  const actor = await getSessionActor();
  if (!actor) redirect(`/sign-in?next=${encodeURIComponent(`/invite/${t.data}`)}`);
  const reqHeaders = await headers();
  const r = await run(() => acceptInvitation({ actor, token: t.data, reqHeaders }));
  if (!r.ok) return { error: r.error.message };
  redirect(`/orgs/${r.data.org}/integrations`);
}
