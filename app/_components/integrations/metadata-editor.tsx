"use client";

import { useState } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import { updateIntegrationMetadataAction } from "@/actions/integrations";
import { buildMetadataSchema, issuesToFields, TAGS_MAX, type Integration } from "@/lib/integrations/schemas";
import type { ClientProvider } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Field } from "../ui/field";
import { Input } from "../ui/input";

type FormValues = { label: string; tags: Array<{ key: string; value: string }>; extra: Record<string, string> };

function toForm(provider: ClientProvider, metadata: Record<string, unknown>): FormValues {
  const tags = metadata.tags && typeof metadata.tags === "object" ? Object.entries(metadata.tags as Record<string, string>) : [];
  const extra: Record<string, string> = {};
  for (const m of provider.metadata) {
    const v = metadata[m.key];
    extra[m.key] = Array.isArray(v) ? v.join(", ") : typeof v === "string" ? v : "";
  }
  return { label: typeof metadata.label === "string" ? metadata.label : "", tags: tags.map(([key, value]) => ({ key, value: String(value) })), extra };
}

function toMetadata(provider: ClientProvider, v: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (v.label.trim()) out.label = v.label.trim();
  const tags = v.tags.filter((t) => t.key.trim() || t.value.trim());
  if (tags.length) out.tags = Object.fromEntries(tags.map((t) => [t.key.trim(), t.value]));
  for (const m of provider.metadata) {
    const raw = (v.extra[m.key] ?? "").trim();
    if (!raw) continue;
    out[m.key] = m.type === "string_list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
  }
  return out;
}

/** Label, tags and the provider's own metadata keys, checked with buildMetadataSchema before saving (PUT replaces all). */
export function MetadataEditor({
  org,
  provider,
  integration,
  onSaved,
}: {
  org: string;
  provider: ClientProvider;
  integration: Integration;
  onSaved: () => void;
}) {
  const form = useForm<FormValues>({ defaultValues: toForm(provider, integration.metadata) });
  const { register, control, handleSubmit, setError, clearErrors, formState } = form;
  const tags = useFieldArray({ control, name: "tags" });
  const [status, setStatus] = useState<{ tone: "success" | "error"; text: string } | null>(null);
  const [pending, setPending] = useState(false);
  const errors = formState.errors;

  const applyFieldErrors = (fields: Record<string, string>) => {
    for (const [k, msg] of Object.entries(fields)) {
      const key = k.replace(/^metadata\./, "");
      if (key === "label") setError("label", { message: msg });
      else if (key.startsWith("tags")) setError("root.tags", { message: `Tags: ${msg}` });
      else if (provider.metadata.some((m) => key === m.key || key.startsWith(`${m.key}.`))) setError(`extra.${key.split(".")[0]}`, { message: msg });
      else setError("root", { message: `${key} ${msg}` });
    }
  };

  const onSubmit = async (v: FormValues) => {
    clearErrors();
    setStatus(null);
    const metadata = toMetadata(provider, v);
    const parsed = buildMetadataSchema(provider).safeParse(metadata);
    if (!parsed.success) {
      applyFieldErrors(issuesToFields(parsed.error));
      setStatus({ tone: "error", text: "Fix the highlighted fields; nothing was saved." });
      return;
    }
    setPending(true);
    const r = await updateIntegrationMetadataAction(org, integration.provider, metadata);
    setPending(false);
    if (r.ok) {
      setStatus({ tone: "success", text: "Metadata saved." });
      onSaved();
    } else {
      if (r.error.fields) applyFieldErrors(r.error.fields);
      setStatus({ tone: "error", text: r.error.message });
    }
  };

  return (
    <form onSubmit={handleSubmit(onSubmit)} noValidate className="space-y-4" data-testid="metadata-form">
      <Field id="meta-label" label="Label" error={errors.label?.message} help="A name your team recognizes, such as “prod org”.">
        {(a) => <Input {...a} {...register("label")} maxLength={100} />}
      </Field>

      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-slate-800">Tags</legend>
        {tags.fields.length === 0 ? <p className="text-sm text-slate-600">No tags. Tags help you group costs (team, environment…).</p> : null}
        {tags.fields.map((t, i) => (
          <div key={t.id} className="flex flex-wrap items-end gap-2">
            <div className="min-w-32 flex-1">
              <label htmlFor={`tag-key-${i}`} className="text-xs text-slate-600">
                Tag {i + 1} name
              </label>
              <Input id={`tag-key-${i}`} {...register(`tags.${i}.key`)} />
            </div>
            <div className="min-w-32 flex-1">
              <label htmlFor={`tag-value-${i}`} className="text-xs text-slate-600">
                Tag {i + 1} value
              </label>
              <Input id={`tag-value-${i}`} {...register(`tags.${i}.value`)} />
            </div>
            <Button variant="ghost" size="sm" onClick={() => tags.remove(i)} aria-label={`Remove tag ${i + 1}`}>
              Remove
            </Button>
          </div>
        ))}
        {errors.root?.tags?.message ? <p className="text-sm text-red-700">{errors.root.tags.message}</p> : null}
        <Button variant="outline" size="sm" onClick={() => tags.append({ key: "", value: "" })} disabled={tags.fields.length >= TAGS_MAX}>
          Add a tag
        </Button>
      </fieldset>

      {provider.metadata.map((m) => (
        <Field
          key={m.key}
          id={`meta-${m.key}`}
          label={m.label}
          error={errors.extra?.[m.key]?.message}
          help={m.type === "string_list" ? `Separate several with commas${m.message ? `; each ${m.message}` : ""}.` : m.message ? `It ${m.message}.` : undefined}
        >
          {(a) => <Input {...a} {...register(`extra.${m.key}`)} className="font-mono" />}
        </Field>
      ))}

      {errors.root?.message ? <p className="text-sm text-red-700">{errors.root.message}</p> : null}
      <div aria-live="polite">{status ? <Alert tone={status.tone}>{status.text}</Alert> : null}</div>
      <Button type="submit" disabled={pending}>
        {pending ? "Saving…" : "Save metadata"}
      </Button>
    </form>
  );
}
