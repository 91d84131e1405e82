"use client";

import { useActionState, useState } from "react";
import { createOrganizationAction, type FormState } from "@/actions/auth";
import { slugifyOrg } from "@/lib/ui/format";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Card, CardContent } from "../ui/card";
import { Field } from "../ui/field";
import { Input } from "../ui/input";

export function CreateOrgForm() {
  const [state, action, pending] = useActionState<FormState, FormData>(createOrganizationAction, null);
  const [name, setName] = useState(state?.values?.name ?? "");
  const [slug, setSlug] = useState(state?.values?.slug ?? "");
  const [slugEdited, setSlugEdited] = useState(false);
  const f = state?.fields ?? {};
  return (
    <Card>
      <CardContent>
        <form action={action} className="space-y-4" noValidate>
          <Field id="org-name" label="Organization name" required error={f.name}>
            {(a) => (
              <Input
                {...a}
                name="name"
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                  if (!slugEdited) setSlug(slugifyOrg(e.target.value));
                }}
                autoComplete="organization"
                required
              />
            )}
          </Field>
          <Field
            id="org-slug"
            label="Slug"
            required
            error={f.slug}
            help="Used in URLs and the REST API (/integrations/<slug>): 2–63 lowercase letters, digits, - or _. It cannot be changed later."
          >
            {(a) => (
              <Input
                {...a}
                name="slug"
                value={slug}
                onChange={(e) => {
                  setSlug(e.target.value);
                  setSlugEdited(true);
                }}
                pattern="[a-z0-9][a-z0-9_\-]{1,62}"
                className="font-mono"
                required
              />
            )}
          </Field>
          <div aria-live="polite">{state?.error ? <Alert tone="error">{state.error}</Alert> : null}</div>
          <Button type="submit" disabled={pending}>
            {pending ? "Creating…" : "Create organization"}
          </Button>
        </form>
      </CardContent>
    </Card>
  );
}
