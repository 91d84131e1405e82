"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { z } from "zod";
import { getReadyAuth, withAuthErrors } from "@/lib/auth/accounts";
import { acceptInvitation, createUserOrganization } from "@/lib/auth/org-accounts";
import { getSessionActor } from "@/lib/auth/session";
import { clientAddressOf, takeSignInAttempt, takeSignUpAttempt } from "@/lib/auth/attempt-limits";
import { getEnv } from "@/lib/env";
import { issuesToFields } from "@/lib/integrations/schemas";
import { run, safeNext } from "./run";

/**
 * Accounts: sign up, sign in, sign out, create an organization, accept an invitation. These are
 * form actions (useActionState): they redirect on success and return a plain error value otherwise.
 * A password is never returned, logged or put back into the form.
 */

export type FormState = {
  error?: string;
  fields?: Record<string, string>;
  values?: Record<string, string>;
} | null;

const email = z.string().trim().toLowerCase().email({ message: "must be an email address" }).max(254, { message: "is too long" });

const SignUpSchema = z.object({
  name: z.string().trim().min(1, { message: "is required" }).max(100, { message: "must be at most 100 characters" }),
  email,
  password: z.string().min(10, { message: "must be at least 10 characters" }).max(128, { message: "must be at most 128 characters" }),
});

const SignInSchema = z.object({ email, password: z.string().min(1, { message: "is required" }).max(128) });

function str(fd: FormData, k: string): string {
  const v = fd.get(k);
  return typeof v === "string" ? v : "";
}

export async function signUpAction(_prev: FormState, fd: FormData): Promise<FormState> {
  const values = { name: str(fd, "name"), email: str(fd, "email") };
  const parsed = SignUpSchema.safeParse({ ...values, password: str(fd, "password") });
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error), values };
  const wait = takeSignUpAttempt(clientAddressOf(await headers()));
  if (wait > 0) return { error: `Too many new accounts from this address; try again in ${Math.ceil(wait / 60)} min.`, values };
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
  const values = { email: str(fd, "email") };
  const parsed = SignInSchema.safeParse({ ...values, password: str(fd, "password") });
  if (!parsed.success) return { error: "Check the highlighted fields.", fields: issuesToFields(parsed.error), values };
  const wait = takeSignInAttempt(parsed.data.email);
  if (wait > 0) return { error: `Too many sign-in attempts for this account; try again in ${Math.ceil(wait / 60)} min.`, values };
  const r = await run(async () => {
    const auth = await getReadyAuth(getEnv());
    const reqHeaders = await headers();
    await withAuthErrors(() => auth.api.signInEmail({ body: parsed.data, headers: reqHeaders }));
  });
  // One message for unknown email and wrong password: do not reveal which accounts exist.
  if (!r.ok) return { error: r.error.code === "internal" ? r.error.message : "Wrong email or password.", values };
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

export async function createOrganizationAction(_prev: FormState, fd: FormData): Promise<FormState> {
  const values = { name: str(fd, "name"), slug: str(fd, "slug") };
  const actor = await getSessionActor();
  if (!actor) redirect("/sign-in?next=/orgs/new");
  const reqHeaders = await headers();
  const r = await run(() => createUserOrganization({ actor, input: values, reqHeaders }));
  if (!r.ok) return { error: r.error.message, fields: r.error.fields, values };
  redirect(`/orgs/${r.data.slug}/integrations`);
}

export async function acceptInvitationAction(invitationId: string): Promise<FormState> {
  const actor = await getSessionActor();
  if (!actor) redirect(`/sign-in?next=${encodeURIComponent(`/invite/${invitationId}`)}`);
  const reqHeaders = await headers();
  const r = await run(() => acceptInvitation({ actor, invitationId: String(invitationId), reqHeaders }));
  if (!r.ok) return { error: r.error.message };
  redirect(`/orgs/${r.data.org}/integrations`);
}
