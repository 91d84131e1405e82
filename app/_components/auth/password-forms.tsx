"use client";

import Link from "next/link";
import { useActionState } from "react";
import type { FormState } from "@/actions/auth";
import { requestPasswordResetAction, resendVerificationAction, resetPasswordAction } from "@/actions/auth";
import { Alert, FormMessages } from "../ui/alert";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { Field } from "../ui/field";
import { Input } from "../ui/input";
import { SecretInput } from "../ui/secret-input";

/** "Forgot your password?": asks for the address; the answer is the same whether an account exists or not. */
export function RequestResetForm() {
  const [state, action, pending] = useActionState<FormState, FormData>(requestPasswordResetAction, null);
  const f = state?.fields ?? {};
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-xl">Reset your password</CardTitle>
        <CardDescription>We mail a link to choose a new password (valid 1 hour, once).</CardDescription>
      </CardHeader>
      <CardContent>
        <form action={action} className="space-y-4" noValidate>
          <Field id="email" label="Email" required error={f.email}>
            {(a) => <Input {...a} name="email" type="email" autoComplete="email" defaultValue={state?.values?.email ?? ""} required />}
          </Field>
          <FormMessages state={state} />
          <Button type="submit" className="w-full" disabled={pending}>
            {pending ? "Please wait…" : "Send the link"}
          </Button>
        </form>
        <p className="mt-4 text-center text-sm text-slate-600">
          <Link href="/sign-in" className="font-medium text-brand-700 underline">
            Back to sign in
          </Link>
        </p>
      </CardContent>
    </Card>
  );
}

/** The reset link's form. The token travels in a hidden field, back to the server only. */
export function ResetPasswordForm({ token }: { token: string }) {
  const [state, action, pending] = useActionState<FormState, FormData>(resetPasswordAction, null);
  const f = state?.fields ?? {};
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-xl">Choose a new password</CardTitle>
        <CardDescription>Every session of this account ends; sign in again with the new password.</CardDescription>
      </CardHeader>
      <CardContent>
        <form action={action} className="space-y-4" noValidate>
          <input type="hidden" name="token" value={token} />
          <Field id="password" label="New password" required error={f.password ?? f.token} help="At least 10 characters.">
            {(a) => <SecretInput {...a} name="password" autoComplete="new-password" required />}
          </Field>
          <div aria-live="polite">{state?.error ? <Alert tone="error">{state.error}</Alert> : null}</div>
          <Button type="submit" className="w-full" disabled={pending}>
            {pending ? "Please wait…" : "Set the new password"}
          </Button>
        </form>
      </CardContent>
    </Card>
  );
}

/** Asks for a new address-verification mail. */
export function ResendVerification() {
  const [state, action, pending] = useActionState<FormState, FormData>(() => resendVerificationAction(), null);
  return (
    <form action={action} className="space-y-3">
      <FormMessages state={state} />
      <Button type="submit" variant="outline" disabled={pending}>
        {pending ? "Sending…" : "Send the confirmation link again"}
      </Button>
    </form>
  );
}
