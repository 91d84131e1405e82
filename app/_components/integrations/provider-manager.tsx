"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type ReactNode } from "react";
import { deleteIntegrationAction, validateIntegrationAction } from "@/actions/integrations";
import type { Integration } from "@/lib/integrations/schemas";
import { describeOutcome, describeTestOutcome, formatDateTime, formatLastValidated, isManualEntry } from "@/lib/ui/format";
import type { ClientProvider } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { ConfirmDialog } from "../ui/dialog";
import { ConnectForm } from "./connect-form";
import { ConnectionTestView, type PublicConnectionTest } from "./connection-test-view";
import { MetadataEditor } from "./metadata-editor";
import { StatusBadge } from "./status-badge";

/**
 * One provider of one org: status, validate, delete, the connect/replace form, metadata, setup
 * info. The data comes from the server component page; after a change the page is refreshed
 * (router.refresh), so every view shows what the server now has.
 */
export function ProviderManager({
  org,
  orgName,
  provider,
  adding,
  integration,
  tagsMax,
  canWrite,
  setupInfo,
}: {
  org: string;
  orgName: string;
  provider: ClientProvider;
  /** The "add a SaaS vendor" page: the template itself, the id comes from the vendor name. */
  adding: boolean;
  /** The stored integration, if any. */
  integration?: Integration;
  tagsMax: number;
  canWrite: boolean;
  setupInfo: ReactNode;
}) {
  const router = useRouter();
  const refresh = () => router.refresh();
  const manual = provider.credential_type === "manual";
  const title = adding ? "Add a SaaS vendor" : integration && manual ? String(integration.metadata.label || integration.name) : provider.name;

  return (
    <div className="space-y-6">
      <div>
        <Link href={`/orgs/${org}/integrations`} className="text-sm text-brand-700 underline">
          ← All integrations
        </Link>
        <div className="mt-2 flex flex-wrap items-center gap-3">
          <h1 className="text-2xl font-semibold">{title}</h1>
          {adding ? null : <StatusBadge status={integration?.status ?? "not_connected"} />}
        </div>
        <p className="mt-1 text-slate-700">
          {provider.credential_type_label} · {provider.description}
        </p>
      </div>

      {integration && !adding ? (
        <IntegrationSummary
          org={org}
          orgName={orgName}
          integration={integration}
          canWrite={canWrite}
          onChanged={refresh}
          onDeleted={() => {
            router.push(`/orgs/${org}/integrations`);
            router.refresh();
          }}
        />
      ) : null}

      <div className="grid gap-6 lg:grid-cols-5">
        <div className="space-y-6 lg:col-span-3">
          <Card>
            <CardHeader>
              <CardTitle>
                {!canWrite ? "Credential" : integration ? (manual ? "Replace the entry" : "Replace the credential") : adding ? "Vendor" : `Connect ${provider.name}`}
              </CardTitle>
              <CardDescription>
                {!canWrite
                  ? "Only owners and admins connect or replace credentials."
                  : manual
                    ? "A manual entry is not tested with the vendor: it is format-checked, encrypted and stored. Add the billing currency, monthly amount and renewal date as metadata after saving."
                    : integration
                      ? "The new credential is tested first; the current one keeps working unless the new one passes."
                      : "Format check → connection test → encryption → stored. The secret is never shown again after this."}
              </CardDescription>
            </CardHeader>
            <CardContent>
              {canWrite ? (
                <ConnectForm
                  org={org}
                  provider={provider}
                  adding={adding}
                  replacing={Boolean(integration)}
                  onFinished={(r) => {
                    if (!r.ok) return;
                    if (adding) router.push(`/orgs/${org}/integrations/${r.integration.provider}`);
                    else refresh();
                  }}
                />
              ) : (
                <Alert tone="info" title="You have the viewer role">
                  You can see this integration&apos;s status but not connect, replace or delete it. Ask an owner or admin of {orgName}.
                </Alert>
              )}
            </CardContent>
          </Card>

          {integration && !adding ? (
            <Card>
              <CardHeader>
                <CardTitle>Metadata</CardTitle>
                <CardDescription>Not secret: labels and settings the cost pipeline reads with the credential.</CardDescription>
              </CardHeader>
              <CardContent>
                {canWrite ? (
                  <MetadataEditor key={integration.version} org={org} provider={provider} integration={integration} tagsMax={tagsMax} onSaved={refresh} />
                ) : (
                  <MetadataView metadata={integration.metadata} />
                )}
              </CardContent>
            </Card>
          ) : null}
        </div>
        <div className="lg:col-span-2">{setupInfo}</div>
      </div>
    </div>
  );
}

function MetadataView({ metadata }: { metadata: Record<string, unknown> }) {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return <p className="text-sm text-slate-600">No metadata.</p>;
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="font-mono break-all">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function IntegrationSummary({
  org,
  orgName,
  integration,
  canWrite,
  onChanged,
  onDeleted,
}: {
  org: string;
  orgName: string;
  integration: Integration;
  canWrite: boolean;
  onChanged: () => void;
  onDeleted: () => void;
}) {
  const [validating, setValidating] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string; test?: PublicConnectionTest } | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const name = String(integration.metadata.label || integration.name);
  const providerName = integration.name;

  const validate = async () => {
    setValidating(true);
    setResult(null);
    const r = await validateIntegrationAction(org, integration.provider);
    setValidating(false);
    if (r.ok) {
      const ok = r.data.integration.status === "active";
      // The checks below carry the messages: the line above them only says how it went.
      setResult({
        ok,
        message: ok ? `Validated: ${r.data.integration.status}.` : `Validation failed: ${describeTestOutcome(r.data.connection_test.outcome)}.`,
        test: r.data.connection_test,
      });
    } else {
      const test = r.error.connection_test as PublicConnectionTest | undefined;
      setResult({ ok: false, message: test ? `Validation failed: ${describeTestOutcome(test.outcome)}.` : r.error.message, test });
    }
    onChanged();
  };

  const remove = async () => {
    setDeleting(true);
    const r = await deleteIntegrationAction(org, integration.provider);
    setDeleting(false);
    setConfirm(false);
    if (r.ok) {
      onChanged();
      onDeleted();
    } else setResult({ ok: false, message: r.error.message });
  };

  const account = integration.account ? integration.account.name || integration.account.id : "—";
  return (
    <Card data-testid="integration-summary">
      <CardContent className="space-y-4">
        <dl className="grid gap-x-6 gap-y-3 text-sm sm:grid-cols-3 lg:grid-cols-6">
          <Item label="Status">
            <StatusBadge status={integration.status} />
          </Item>
          <Item label="Fingerprint">
            <code className="font-mono" data-testid="summary-fingerprint">
              {integration.fingerprint}
            </code>
          </Item>
          <Item label="Account">{account}</Item>
          <Item label="Key kind">{integration.key_kind ?? "—"}</Item>
          <Item label="Last validated">
            <span data-testid="summary-last-validated" data-at={integration.last_validated_at ?? ""}>
              {formatLastValidated(integration)}
            </span>
          </Item>
          <Item label="Version">
            {integration.version} · {formatDateTime(integration.updated_at)}
          </Item>
        </dl>
        {integration.last_error && !result?.test ? (
          <Alert tone="error" title={`Last error: ${describeOutcome(integration.last_error.code)}`}>
            {integration.last_error.message}
          </Alert>
        ) : null}
        {canWrite ? (
          <div className="flex flex-wrap gap-2">
            {isManualEntry(integration) ? null : (
              <Button variant="outline" onClick={validate} disabled={validating}>
                {validating ? "Validating…" : "Validate now"}
              </Button>
            )}
            <Button variant="danger" onClick={() => setConfirm(true)}>
              Delete integration
            </Button>
          </div>
        ) : null}
        <div aria-live="polite" data-testid="validate-status" className="space-y-3">
          {result ? <Alert tone={result.ok ? "success" : "error"}>{result.message}</Alert> : null}
          {result?.test ? <ConnectionTestView test={result.test} /> : null}
        </div>
      </CardContent>
      <ConfirmDialog
        open={confirm}
        onClose={() => setConfirm(false)}
        onConfirm={remove}
        pending={deleting}
        title={`Delete ${name}?`}
        confirmLabel={`Delete ${providerName}`}
        description={
          <>
            <p>
              The cost pipelines will stop pulling {providerName} costs for {orgName}. The encrypted credential (fingerprint{" "}
              <code className="font-mono">{integration.fingerprint}</code>) is removed from storage.
            </p>
            <p className="mt-2">To connect again you will need the secret again.</p>
          </>
        }
      />
    </Card>
  );
}

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs font-medium tracking-wide text-slate-500 uppercase">{label}</dt>
      <dd className="mt-1">{children}</dd>
    </div>
  );
}
