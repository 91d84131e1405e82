"use client";

import { useRef, useState, type DragEvent, type FormEvent } from "react";
import { setupIntegrationAction } from "@/actions/integrations";
import type { FieldDef } from "@/lib/integrations/registry-schema";
import type { Integration } from "@/lib/integrations/schemas";
import type { ActionError } from "@/lib/ui/action-result";
import { describeTestOutcome, slugifyVendor } from "@/lib/ui/format";
import type { ClientProvider } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Field } from "../ui/field";
import { Input, Textarea } from "../ui/input";
import { SecretInput, SecretTextarea } from "../ui/secret-input";
import { ConnectionTestView, type PublicConnectionTest } from "./connection-test-view";
import { loadSchemas } from "./load-schemas";
import { SetupProgress, stepsFor, type StepState } from "./setup-progress";

export type SetupOutcome =
  | { ok: true; created: boolean; integration: Integration; connection_test: PublicConnectionTest; warnings: Record<string, string> }
  | { ok: false; error: ActionError };

/** The registry's labels may say "(optional)" themselves; the form adds it from `required`. */
const fieldLabel = (f: FieldDef) => f.label.replace(/\s*\(optional\)\s*$/i, "");

/**
 * Connect (or replace) a provider's credential: a plain form generated from the registry entry,
 * checked in the browser with the same zod schema the server uses (loaded on first use). Secrets are sent once, to the
 * setup action, and cleared from the form as soon as it answers; nothing the server returns
 * contains them. When adding a SaaS vendor (`adding`), the integration id comes from the
 * vendor name field (saas_<vendor>): the vendor is asked once.
 */
export function ConnectForm({
  org,
  provider,
  adding = false,
  replacing,
  onFinished,
}: {
  org: string;
  provider: ClientProvider;
  /** The SaaS template itself: the integration id is saas_<vendor name>. */
  adding?: boolean;
  replacing: boolean;
  onFinished?: (r: SetupOutcome) => void;
}) {
  const formRef = useRef<HTMLFormElement>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [warnings, setWarnings] = useState<Record<string, string>>({});
  const [steps, setSteps] = useState<Record<string, StepState> | null>(null);
  const [result, setResult] = useState<SetupOutcome | null>(null);
  const [pending, setPending] = useState(false);
  const [vendor, setVendor] = useState("");
  const manual = provider.credential_type === "manual";
  const template = adding;
  const vendorSlug = slugifyVendor(vendor);
  const templateId = `saas_${vendorSlug}`;
  const templateIdValid = template && provider.id_pattern ? new RegExp(provider.id_pattern).test(templateId) : false;
  // The registry says which fields a pasted JSON document fills (paste_keys), not the field names.
  const pasteJson = provider.paste_json;

  const control = (name: string) => formRef.current?.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement | null;
  const readValues = () => Object.fromEntries(provider.fields.map((f) => [f.name, control(f.name)?.value ?? ""]));
  const refreshWarnings = async () => {
    const { credentialWarnings } = await loadSchemas();
    setWarnings(credentialWarnings(provider, readValues()));
  };
  const setValue = (name: string, value: string) => {
    const el = control(name);
    if (el) el.value = value;
    setErrors((e) => omit(e, name));
    void refreshWarnings();
  };
  const clearSecrets = () => {
    for (const f of provider.fields) if (f.secret) setValue(f.name, "");
  };

  const onSubmit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setResult(null);
    const { buildCredentialSchema, issuesToFields } = await loadSchemas();
    const parsed = buildCredentialSchema(provider).safeParse(readValues());
    const fieldErrors = parsed.success ? {} : issuesToFields(parsed.error);
    if (template && !templateIdValid && !fieldErrors.display_name) {
      fieldErrors.display_name = "must contain letters or digits: it names the integration saas_<vendor>";
    }
    if (!parsed.success || Object.keys(fieldErrors).length > 0) {
      setErrors(fieldErrors);
      setSteps({ format: "failed", connection_test: "skipped", encryption: "skipped", stored: "skipped" });
      return;
    }
    const providerId = template ? templateId : provider.id;
    setErrors({});
    // Step 1 ran in this browser with the server's own schema; 2–4 run on the server in one call.
    setSteps({ format: "done", connection_test: manual ? "skipped" : "running", encryption: "waiting", stored: "waiting" });
    setPending(true);
    let r: SetupOutcome;
    try {
      const credential = readValues();
      // A new vendor is labelled with its name (not secret), so lists show "Datadog Inc.", not "datadog-inc".
      const input = template ? { credential, metadata: { label: String(credential.display_name ?? "").trim() } } : { credential };
      const res = await setupIntegrationAction(org, providerId, input);
      r = res.ok ? { ok: true, ...res.data } : res;
    } catch {
      r = { ok: false, error: { code: "network", message: "The server could not be reached; nothing was stored. Check your connection and try again." } };
    }
    // Success or failure, the secret leaves the form now.
    clearSecrets();
    setPending(false);
    const s = stepsFor(r.ok ? null : r.error.code);
    if (manual && s.connection_test === "done") s.connection_test = "skipped";
    setSteps(s);
    setResult(r);
    if (r.ok) {
      formRef.current?.reset();
      setVendor("");
      setWarnings({});
    } else if (r.error.fields) {
      const mine: Record<string, string> = {};
      for (const [k, msg] of Object.entries(r.error.fields)) {
        const name = k.replace(/^credential\./, "");
        if (provider.fields.some((f) => f.name === name)) mine[name] = msg;
      }
      setErrors(mine);
    }
    onFinished?.(r);
  };

  return (
    <form
      ref={formRef}
      onSubmit={onSubmit}
      onInput={(e) => {
        const t = e.target as HTMLInputElement;
        if (!provider.fields.some((f) => f.name === t.name)) return;
        if (t.name === "display_name" && template) setVendor(t.value);
        setErrors((x) => omit(x, t.name));
        void refreshWarnings();
      }}
      onFocus={() => void loadSchemas()}
      noValidate
      className="space-y-5"
      aria-busy={pending}
      data-testid="connect-form"
    >
      {pasteJson ? <ServicePrincipalPaste setValue={setValue} map={pasteJson} /> : null}
      {provider.fields.map((f) => (
        <CredentialField
          key={f.name}
          f={f}
          error={errors[f.name]}
          warning={warnings[f.name]}
          help={
            template && f.name === "display_name"
              ? vendorSlug
                ? `Integration id: ${templateId}`
                : "Any vendor, by name: Datadog, Snowflake, GitHub… It becomes the integration id saas_<vendor>."
              : undefined
          }
          onFile={(text) => setValue(f.name, text)}
        />
      ))}
      <div className="flex flex-wrap items-center gap-3">
        <Button type="submit" disabled={pending}>
          {pending ? (manual ? "Saving…" : "Testing…") : manual ? (replacing ? "Save changes" : "Save vendor") : replacing ? "Test and replace" : "Test and connect"}
        </Button>
        <p className="text-xs text-slate-600">
          {manual ? "Encrypted and stored; a manual entry is not tested with the vendor." : "Nothing is stored unless the provider accepts the credential."}
        </p>
      </div>
      <div aria-live="polite" className="space-y-4" data-testid="setup-status">
        {steps ? <SetupProgress steps={steps} /> : null}
        {result ? <SetupResultView result={result} providerName={provider.name} manual={manual} /> : null}
      </div>
    </form>
  );
}

function omit(o: Record<string, string>, k: string): Record<string, string> {
  if (!(k in o)) return o;
  const { [k]: _drop, ...rest } = o;
  void _drop;
  return rest;
}

function SetupResultView({ result, providerName, manual }: { result: SetupOutcome; providerName: string; manual: boolean }) {
  if (result.ok) {
    const i = result.integration;
    const warn = Object.entries(result.warnings ?? {});
    const name = manual ? String(i.metadata.label || i.name) : providerName;
    return (
      <div className="space-y-3" data-testid="setup-result" data-ok="true">
        <Alert tone="success" title={manual ? `${name} is ${result.created ? "saved" : "updated"}` : `${name} is ${result.created ? "connected" : "replaced"}: ${i.status}`}>
          <p>
            Fingerprint <code className="font-mono">{i.fingerprint}</code> · version {i.version}
            {i.account ? ` · account ${i.account.name || i.account.id}` : ""}
            {i.key_kind ? ` · ${i.key_kind} key` : ""}
          </p>
        </Alert>
        {warn.length > 0 ? (
          <Alert tone="warning" title="Worth a look">
            <ul className="list-disc pl-5">
              {warn.map(([k, v]) => (
                <li key={k}>
                  {k} {v}
                </li>
              ))}
            </ul>
          </Alert>
        ) : null}
        {manual ? null : <ConnectionTestView test={result.connection_test} />}
      </div>
    );
  }
  const ct = result.error.connection_test as PublicConnectionTest | undefined;
  // With a connection test, each check carries its own message: say it once, there.
  return (
    <div className="space-y-3" data-testid="setup-result" data-ok="false">
      <Alert tone="error" title="Not connected: nothing was stored">
        <p data-testid="setup-error-message">{ct ? `The connection test failed: ${describeTestOutcome(ct.outcome)}. What to fix is below.` : result.error.message}</p>
      </Alert>
      {ct ? <ConnectionTestView test={ct} /> : null}
    </div>
  );
}

function CredentialField({
  f,
  error,
  warning,
  help: helpOverride,
  onFile,
}: {
  f: FieldDef;
  error?: string;
  warning?: string;
  help?: string;
  onFile: (text: string) => void;
}) {
  const id = `field-${f.name}`;
  const help = helpOverride ?? f.help ?? (f.example && !f.secret ? `Example: ${f.example}` : undefined);
  const isFile = f.type === "json-file" || f.format === "pem_private_key";
  return (
    <Field id={id} label={fieldLabel(f)} required={f.required} error={error} warning={warning} help={help}>
      {(a) => (
        <div className="space-y-2">
          {isFile ? <FileDrop field={f} onText={onFile} /> : null}
          {f.type === "json-file" || f.type === "textarea" ? (
            f.secret ? (
              <SecretTextarea {...a} name={f.name} rows={f.type === "json-file" ? 6 : 5} placeholder={isFile ? "…or paste it here" : undefined} />
            ) : (
              <Textarea {...a} name={f.name} rows={4} className="font-sans text-sm" />
            )
          ) : f.secret ? (
            <SecretInput {...a} name={f.name} placeholder={f.example} />
          ) : (
            <Input {...a} name={f.name} autoComplete="off" spellCheck={false} placeholder={f.example} />
          )}
        </div>
      )}
    </Field>
  );
}

/** A drop zone that is also a file picker; the file is read in the browser as text. */
function FileDrop({ field, onText }: { field: FieldDef; onText: (text: string) => void }) {
  const [over, setOver] = useState(false);
  const [loaded, setLoaded] = useState<string | null>(null);
  const json = field.type === "json-file";
  const accept = json ? "application/json,.json" : ".pem,.key,.txt";
  const read = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > 64 * 1024) {
      setLoaded("That file is larger than 64 KiB; it is not a key file.");
      return;
    }
    const text = await file.text();
    onText(text);
    let detail = "";
    if (json) {
      try {
        const o = JSON.parse(text) as { client_email?: unknown; project_id?: unknown };
        if (typeof o.client_email === "string") detail = ` (service account ${o.client_email}${typeof o.project_id === "string" ? `, project ${o.project_id}` : ""})`;
      } catch {
        /* the schema says what is wrong */
      }
    }
    setLoaded(`Loaded ${file.name}${detail}.`);
  };
  const inputId = `file-${field.name}`;
  return (
    <div
      onDragOver={(e: DragEvent) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e: DragEvent) => {
        e.preventDefault();
        setOver(false);
        void read(e.dataTransfer.files[0]);
      }}
      className={`rounded-md border-2 border-dashed px-4 py-4 text-center text-sm ${over ? "border-brand-600 bg-brand-50" : "border-slate-300 bg-slate-50"}`}
    >
      <p className="text-slate-700">
        Drop the {json ? "JSON key file" : ".pem file"} here, or{" "}
        {/* The input stays in the tab order; its label shows the focus ring (peer). No name: not part of the form's values. */}
        <input id={inputId} type="file" accept={accept} className="peer sr-only" onChange={(e) => void read(e.target.files?.[0] ?? undefined)} />
        <label
          htmlFor={inputId}
          className="cursor-pointer rounded font-medium text-brand-700 underline peer-focus-visible:outline-2 peer-focus-visible:outline-offset-2 peer-focus-visible:outline-brand-600"
        >
          choose a file
        </label>
      </p>
      <p aria-live="polite" className="mt-1 text-xs text-slate-600">
        {loaded ?? "It is read in your browser and sent only when you connect."}
      </p>
    </div>
  );
}

/** Paste the JSON `az ad sp create-for-rbac` prints; the registry's paste_keys say which fields its keys fill. */
function ServicePrincipalPaste({
  setValue,
  map,
}: {
  setValue: (name: string, value: string) => void;
  map: NonNullable<ClientProvider["paste_json"]>;
}) {
  const [msg, setMsg] = useState<string | null>(null);
  // Uncontrolled on purpose: React would mirror a controlled value into the DOM's text content.
  const apply = (el: HTMLTextAreaElement) => {
    const raw = el.value;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch {
      setMsg(raw.trim() ? "Not JSON yet: paste the whole output, from { to }." : null);
      return;
    }
    const doc = (o !== null && typeof o === "object" ? o : {}) as Record<string, unknown>;
    const filled: string[] = [];
    for (const { key, field, label } of map) {
      const v = doc[key];
      if (typeof v !== "string" || filled.includes(label)) continue;
      setValue(field, v);
      filled.push(label);
    }
    // The pasted text holds the secret: do not keep it around once it is in the form.
    el.value = "";
    setMsg(filled.length ? `Filled ${filled.join(", ")} from the pasted JSON.` : `That JSON has none of ${[...new Set(map.map((m) => m.key))].join(", ")}.`);
  };
  return (
    <div className="rounded-md border border-slate-200 bg-slate-50 p-3">
      <label htmlFor="sp-json" className="block text-sm font-medium">
        Paste the output of <code className="text-xs">az ad sp create-for-rbac</code> (optional)
      </label>
      <Textarea
        id="sp-json"
        aria-describedby="sp-json-status"
        onChange={(e) => apply(e.currentTarget)}
        rows={2}
        placeholder='{"appId": "…", "displayName": "…", "password": "…", "tenant": "…"}'
        className="mask-secret mt-1 bg-white"
        autoComplete="off"
        spellCheck={false}
      />
      <p id="sp-json-status" aria-live="polite" className="mt-1 text-xs text-slate-600">
        {msg ?? `We fill ${[...new Set(map.map((m) => m.label))].join(", ")} from what it contains; add the rest yourself.`}
      </p>
    </div>
  );
}
