"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useEffect, useMemo, useState, type DragEvent } from "react";
import { useForm, type UseFormSetValue } from "react-hook-form";
import { setupIntegrationAction } from "@/actions/integrations";
import type { FieldDef } from "@/lib/integrations/registry-schema";
import { buildCredentialSchema, credentialWarnings, type Integration } from "@/lib/integrations/schemas";
import type { ActionError } from "@/lib/ui/action-result";
import type { ClientProvider } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Field } from "../ui/field";
import { Input, Textarea } from "../ui/input";
import { SecretInput, SecretTextarea } from "../ui/secret-input";
import { ConnectionTestView, type PublicConnectionTest } from "./connection-test-view";
import { SetupProgress, stepsFor, type StepState } from "./setup-progress";

type Values = Record<string, unknown>;

export type SetupOutcome =
  | { ok: true; created: boolean; integration: Integration; connection_test: PublicConnectionTest; warnings: Record<string, string> }
  | { ok: false; error: ActionError };

/**
 * Connect (or replace) a provider's credential. The form is generated from the registry entry and
 * validated with the same zod schema the server uses. Secrets are sent once, to the setup action,
 * and cleared from the form as soon as it answers; nothing the server returns contains them.
 */
export function ConnectForm({
  org,
  provider,
  providerId,
  replacing,
  onFinished,
  beforeSubmit,
  syncValues,
}: {
  org: string;
  provider: ClientProvider;
  /** The concrete id to set up (saas_<vendor> for the SaaS template); null while it is not valid yet. */
  providerId: string | null;
  replacing: boolean;
  onFinished?: (r: SetupOutcome) => void;
  /** Extra validation outside the credential (the SaaS vendor name); returns false to stop. */
  beforeSubmit?: () => boolean;
  /** Values typed elsewhere that fill a field until the person edits it (the SaaS vendor's name). */
  syncValues?: Record<string, string>;
}) {
  const schema = useMemo(() => buildCredentialSchema(provider), [provider]);
  const defaults = useMemo(() => Object.fromEntries(provider.fields.map((f) => [f.name, ""])), [provider]);
  const form = useForm<Values, unknown, Values>({ resolver: zodResolver(schema), defaultValues: defaults });
  const { register, handleSubmit, formState, setError, resetField, setValue, watch, reset } = form;
  const [steps, setSteps] = useState<Record<string, StepState> | null>(null);
  const [result, setResult] = useState<SetupOutcome | null>(null);
  const [pending, setPending] = useState(false);
  const values = watch();
  const warnings = credentialWarnings(provider, values);
  const secretNames = provider.fields.filter((f) => f.secret).map((f) => f.name);
  const sp = provider.fields.some((f) => f.name === "tenant_id") && provider.fields.some((f) => f.name === "client_secret");

  const syncKey = JSON.stringify(syncValues ?? {});
  useEffect(() => {
    for (const [k, v] of Object.entries(JSON.parse(syncKey) as Record<string, string>)) {
      if (!form.getFieldState(k).isDirty) setValue(k, v);
    }
  }, [syncKey, form, setValue]);

  const clearSecrets = () => {
    for (const n of secretNames) resetField(n, { defaultValue: "" });
  };

  const onValid = async (credential: Values) => {
    if (beforeSubmit && !beforeSubmit()) return;
    if (!providerId) return;
    setResult(null);
    // Step 1 ran in this browser with the server's own schema; 2–4 run on the server in one call.
    setSteps({ format: "done", connection_test: "running", encryption: "waiting", stored: "waiting" });
    setPending(true);
    let r: SetupOutcome;
    try {
      const res = await setupIntegrationAction(org, providerId, { credential });
      r = res.ok ? { ok: true, ...res.data } : res;
    } catch {
      r = { ok: false, error: { code: "network", message: "The server could not be reached; nothing was stored. Check your connection and try again." } };
    }
    // Success or failure, the secret leaves the form now.
    clearSecrets();
    setPending(false);
    setSteps(stepsFor(r.ok ? null : r.error.code));
    setResult(r);
    if (r.ok) reset(defaults);
    else if (r.error.fields) {
      for (const [k, msg] of Object.entries(r.error.fields)) {
        const name = k.replace(/^credential\./, "");
        if (provider.fields.some((f) => f.name === name)) setError(name, { type: "server", message: msg });
      }
    }
    onFinished?.(r);
  };

  const onInvalid = () => {
    setResult(null);
    setSteps({ format: "failed", connection_test: "skipped", encryption: "skipped", stored: "skipped" });
  };

  return (
    <form onSubmit={handleSubmit(onValid, onInvalid)} noValidate className="space-y-5" aria-busy={pending} data-testid="connect-form">
      {sp ? <ServicePrincipalPaste setValue={setValue} /> : null}
      {provider.fields.map((f) => (
        <CredentialField
          key={f.name}
          f={f}
          error={formState.errors[f.name]?.message as string | undefined}
          warning={warnings[f.name]}
          register={register}
          setValue={setValue}
        />
      ))}
      <div className="flex flex-wrap items-center gap-3">
        <Button type="submit" disabled={pending || !providerId}>
          {pending ? "Testing…" : replacing ? "Test and replace" : "Test and connect"}
        </Button>
        <p className="text-xs text-slate-600">Nothing is stored unless the provider accepts the credential.</p>
      </div>
      <div aria-live="polite" className="space-y-4" data-testid="setup-status">
        {steps ? <SetupProgress steps={steps} /> : null}
        {result ? <SetupResultView result={result} providerName={provider.name} /> : null}
      </div>
    </form>
  );
}

function SetupResultView({ result, providerName }: { result: SetupOutcome; providerName: string }) {
  if (result.ok) {
    const i = result.integration;
    const warn = Object.entries(result.warnings ?? {});
    return (
      <div className="space-y-3" data-testid="setup-result" data-ok="true">
        <Alert tone="success" title={`${providerName} is ${result.created ? "connected" : "replaced"}: ${i.status}`}>
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
        <ConnectionTestView test={result.connection_test} />
      </div>
    );
  }
  const ct = result.error.connection_test as PublicConnectionTest | undefined;
  return (
    <div className="space-y-3" data-testid="setup-result" data-ok="false">
      <Alert tone="error" title="Not connected: nothing was stored">
        <p data-testid="setup-error-message">{result.error.message}</p>
      </Alert>
      {ct ? <ConnectionTestView test={ct} /> : null}
    </div>
  );
}

function CredentialField({
  f,
  error,
  warning,
  register,
  setValue,
}: {
  f: FieldDef;
  error?: string;
  warning?: string;
  register: ReturnType<typeof useForm<Values, unknown, Values>>["register"];
  setValue: UseFormSetValue<Values>;
}) {
  const id = `field-${f.name}`;
  const help = f.help ?? (f.example && !f.secret ? `Example: ${f.example}` : undefined);
  const isFile = f.type === "json-file" || f.format === "pem_private_key";
  return (
    <Field id={id} label={f.label} required={f.required} error={error} warning={warning} help={help}>
      {(a) => (
        <div className="space-y-2">
          {isFile ? <FileDrop field={f} onText={(text) => setValue(f.name, text, { shouldValidate: true, shouldDirty: true })} /> : null}
          {f.type === "json-file" || f.type === "textarea" ? (
            f.secret ? (
              <SecretTextarea {...a} {...register(f.name)} rows={f.type === "json-file" ? 6 : 5} placeholder={isFile ? "…or paste it here" : undefined} />
            ) : (
              <Textarea {...a} {...register(f.name)} rows={4} className="font-sans text-sm" />
            )
          ) : f.secret ? (
            <SecretInput {...a} {...register(f.name)} placeholder={f.example} />
          ) : (
            <Input {...a} {...register(f.name)} autoComplete="off" spellCheck={false} placeholder={f.example} />
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
        {/* The input stays in the tab order; its label shows the focus ring (peer). */}
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

/** Paste the JSON `az ad sp create-for-rbac` prints; appId, password and tenant fill the fields. */
function ServicePrincipalPaste({ setValue }: { setValue: UseFormSetValue<Values> }) {
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
    const sp = o as { appId?: unknown; password?: unknown; tenant?: unknown };
    const filled: string[] = [];
    const opts = { shouldValidate: true, shouldDirty: true } as const;
    const map = [
      ["appId", "client_id", "Client ID"],
      ["tenant", "tenant_id", "Tenant ID"],
      ["password", "client_secret", "Client secret"],
    ] as const;
    for (const [from, to, label] of map) {
      const v = sp[from];
      if (typeof v !== "string") continue;
      setValue(to, v, opts);
      filled.push(label);
    }
    // The pasted text holds the secret: do not keep it around once it is in the form.
    el.value = "";
    setMsg(filled.length ? `Filled ${filled.join(", ")} from the pasted JSON.` : "That JSON has no appId, password or tenant.");
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
        {msg ?? "We fill the tenant, client ID and secret from it; the subscription ID you add yourself."}
      </p>
    </div>
  );
}
