"use client";

import Link from "next/link";
import { useActionState } from "react";
import type { FormState } from "@/actions/auth";
import { signInAction, signUpAction } from "@/actions/auth";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { Field } from "../ui/field";
import { Input } from "../ui/input";
import { SecretInput } from "../ui/secret-input";

/** Sign in / sign up. Works without JavaScript too (a plain form post to the server action). */
export function AuthForm({ mode, next, email, notice }: { mode: "sign-in" | "sign-up"; next?: string; email?: string; notice?: string }) {
  const [state, action, pending] = useActionState<FormState, FormData>(mode === "sign-in" ? signInAction : signUpAction, null);
  const v = state?.values ?? {};
  const f = state?.fields ?? {};
  const other = mode === "sign-in" ? "/sign-up" : "/sign-in";
  const q = new URLSearchParams();
  if (next) q.set("next", next);
  if (email) q.set("email", email);
  const qs = q.toString() ? `?${q}` : "";
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-xl">{mode === "sign-in" ? "Sign in" : "Create your account"}</CardTitle>
        <CardDescription>
          {mode === "sign-in" ? "Use the email and password you signed up with." : "You will create or join an organization next."}
        </CardDescription>
      </CardHeader>
      <CardContent>
        {notice ? <Alert tone="success" className="mb-4">{notice}</Alert> : null}
        <form action={action} className="space-y-4" noValidate>
          {next ? <input type="hidden" name="next" value={next} /> : null}
          {mode === "sign-up" ? (
            <Field id="name" label="Your name" required error={f.name}>
              {(a) => <Input {...a} name="name" autoComplete="name" defaultValue={v.name ?? ""} required />}
            </Field>
          ) : null}
          <Field id="email" label="Email" required error={f.email}>
            {(a) => <Input {...a} name="email" type="email" autoComplete="email" defaultValue={v.email ?? email ?? ""} required />}
          </Field>
          <Field id="password" label="Password" required error={f.password} help={mode === "sign-up" ? "At least 10 characters." : undefined}>
            {(a) => <SecretInput {...a} name="password" autoComplete={mode === "sign-in" ? "current-password" : "new-password"} required />}
          </Field>
          {mode === "sign-in" ? (
            <p className="-mt-2 text-right text-sm">
              <Link href="/forgot-password" className="text-brand-700 underline">
                Forgot your password?
              </Link>
            </p>
          ) : null}
          <div aria-live="polite">{state?.error ? <Alert tone="error">{state.error}</Alert> : null}</div>
          <Button type="submit" className="w-full" disabled={pending}>
            {pending ? "Please wait…" : mode === "sign-in" ? "Sign in" : "Create account"}
          </Button>
        </form>
        <p className="mt-4 text-center text-sm text-slate-600">
          {mode === "sign-in" ? "New here? " : "Already have an account? "}
          <Link href={`${other}${qs}`} className="font-medium text-brand-700 underline">
            {mode === "sign-in" ? "Create an account" : "Sign in"}
          </Link>
        </p>
      </CardContent>
    </Card>
  );
}
