"use client";

import { useState, type FormEvent } from "react";
import { updateIntegrationMetadataAction } from "@/actions/integrations";
import type { Integration } from "@/lib/integrations/schemas";
import type { ClientProvider } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Field } from "../ui/field";
import { Input } from "../ui/input";
import { loadSchemas } from "./load-schemas";

type FormValues = { label: string; tags: Array<{ id: number; key: string; value: string }>; extra: Record<string, string> };
type Errors = { label?: string; tags?: string; extra: Record<string, string>; root?: string };

let nextTagId = 0;

function toForm(provider: ClientProvider, metadata: Record<string, unknown>): FormValues {
  const tags = metadata.tags && typeof metadata.tags === "object" ? Object.entries(metadata.tags as Record<string, string>) : [];
  const extra: Record<string, string> = {};
  for (const m of provider.metadata) {
    const v = metadata[m.key];
    extra[m.key] = Array.isArray(v) ? v.join(", ") : typeof v === "string" ? v : "";
  }
  return { label: typeof metadata.label === "string" ? metadata.label : "", tags: tags.map(([key, value]) => ({ id: nextTagId++, key, value: String(value) })), extra };
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
  tagsMax,
  onSaved,
}: {
  org: string;
  provider: ClientProvider;
  integration: Integration;
  /** TAGS_MAX from lib/integrations/schemas.ts, passed by the server page (zod stays out of the first load). */
  tagsMax: number;
  onSaved: () => void;
}) {
  const [v, setV] = useState<FormValues>(() => toForm(provider, integration.metadata));
  const [errors, setErrors] = useState<Errors>({ extra: {} });
  const [status, setStatus] = useState<{ tone: "success" | "error"; text: string } | null>(null);
  const [pending, setPending] = useState(false);

  const toErrors = (fields: Record<string, string>): Errors => {
    const out: Errors = { extra: {} };
    for (const [k, msg] of Object.entries(fields)) {
      const key = k.replace(/^metadata\./, "");
      if (key === "label") out.label = msg;
      else if (key.startsWith("tags")) out.tags = `Tags: ${msg}`;
      else if (provider.metadata.some((m) => key === m.key || key.startsWith(`${m.key}.`))) out.extra[key.split(".")[0]!] = msg;
      else out.root = `${key} ${msg}`;
    }
    return out;
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({ extra: {} });
    setStatus(null);
    const metadata = toMetadata(provider, v);
    const { buildMetadataSchema, issuesToFields } = await loadSchemas();
    const parsed = buildMetadataSchema(provider).safeParse(metadata);
    if (!parsed.success) {
      setErrors(toErrors(issuesToFields(parsed.error)));
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
      if (r.error.fields) setErrors(toErrors(r.error.fields));
      setStatus({ tone: "error", text: r.error.message });
    }
  };

  const setTag = (id: number, patch: Partial<{ key: string; value: string }>) =>
    setV((x) => ({ ...x, tags: x.tags.map((t) => (t.id === id ? { ...t, ...patch } : t)) }));

  return (
    <form onSubmit={onSubmit} onFocus={() => void loadSchemas()} noValidate className="space-y-4" data-testid="metadata-form">
      <Field id="meta-label" label="Label" error={errors.label} help="A name your team recognizes, such as “prod org”.">
        {(a) => <Input {...a} value={v.label} onChange={(e) => setV((x) => ({ ...x, label: e.target.value }))} maxLength={100} />}
      </Field>

      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-slate-800">Tags</legend>
        {v.tags.length === 0 ? <p className="text-sm text-slate-600">No tags. Tags help you group costs (team, environment…).</p> : null}
        {v.tags.map((t, i) => (
          <div key={t.id} className="flex flex-wrap items-end gap-2">
            <div className="min-w-32 flex-1">
              <label htmlFor={`tag-key-${i}`} className="text-xs text-slate-600">
                Tag {i + 1} name
              </label>
              <Input id={`tag-key-${i}`} value={t.key} onChange={(e) => setTag(t.id, { key: e.target.value })} />
            </div>
            <div className="min-w-32 flex-1">
              <label htmlFor={`tag-value-${i}`} className="text-xs text-slate-600">
                Tag {i + 1} value
              </label>
              <Input id={`tag-value-${i}`} value={t.value} onChange={(e) => setTag(t.id, { value: e.target.value })} />
            </div>
            <Button variant="ghost" size="sm" onClick={() => setV((x) => ({ ...x, tags: x.tags.filter((y) => y.id !== t.id) }))} aria-label={`Remove tag ${i + 1}`}>
              Remove
            </Button>
          </div>
        ))}
        {errors.tags ? <p className="text-sm text-red-700">{errors.tags}</p> : null}
        <Button
          variant="outline"
          size="sm"
          onClick={() => setV((x) => ({ ...x, tags: [...x.tags, { id: nextTagId++, key: "", value: "" }] }))}
          disabled={v.tags.length >= tagsMax}
        >
          Add a tag
        </Button>
      </fieldset>

      {provider.metadata.map((m) => (
        <Field
          key={m.key}
          id={`meta-${m.key}`}
          label={m.label}
          error={errors.extra[m.key]}
          help={m.type === "string_list" ? `Separate several with commas${m.message ? `; each ${m.message}` : ""}.` : m.message ? `It ${m.message}.` : undefined}
        >
          {(a) => (
            <Input
              {...a}
              value={v.extra[m.key] ?? ""}
              onChange={(e) => setV((x) => ({ ...x, extra: { ...x.extra, [m.key]: e.target.value } }))}
              className="font-mono"
            />
          )}
        </Field>
      ))}

      {errors.root ? <p className="text-sm text-red-700">{errors.root}</p> : null}
      <div aria-live="polite">{status ? <Alert tone={status.tone}>{status.text}</Alert> : null}</div>
      <Button type="submit" disabled={pending}>
        {pending ? "Saving…" : "Save metadata"}
      </Button>
    </form>
  );
}
