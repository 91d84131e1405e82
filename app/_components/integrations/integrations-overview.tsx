"use client";

import Link from "next/link";
import { useState } from "react";
import { validateIntegrationAction } from "@/actions/integrations";
import type { Integration } from "@/lib/integrations/schemas";
import { describeOutcome, formatDateTime } from "@/lib/ui/format";
import type { ProviderCard } from "@/lib/ui/provider-view";
import { Alert } from "../ui/alert";
import { Button, buttonClasses } from "../ui/button";
import { Card } from "../ui/card";
import { StatusBadge } from "./status-badge";
import { useIntegrations, useInvalidateIntegrations, type IntegrationList } from "./use-integrations";

type Progress = { provider: string; name: string; state: "waiting" | "running" | "ok" | "failed"; message?: string };

const CATEGORY_TEXT: Record<string, string> = {
  cloud: "Cloud billing exports and cost APIs.",
  genai: "Model providers' cost and usage APIs.",
  saas: "Vendors whose spend you enter by hand; nothing is tested remotely.",
};

/** The org's providers by category, with status, fingerprint, identity and last result; "Validate all". */
export function IntegrationsOverview({
  org,
  orgName,
  initial,
  providers,
  categories,
  canWrite,
}: {
  org: string;
  orgName: string;
  initial: IntegrationList;
  providers: ProviderCard[];
  categories: Array<{ id: string; name: string }>;
  canWrite: boolean;
}) {
  const { data, isFetching, error } = useIntegrations(org, initial);
  const invalidate = useInvalidateIntegrations(org);
  const [progress, setProgress] = useState<Progress[] | null>(null);
  const [running, setRunning] = useState(false);
  const integrations = data.integrations;
  const byId = new Map(integrations.map((i) => [i.provider, i]));

  async function validateAll() {
    const queue: Progress[] = integrations.map((i) => ({ provider: i.provider, name: i.name, state: "waiting" }));
    setProgress(queue);
    setRunning(true);
    const update = (provider: string, patch: Partial<Progress>) =>
      setProgress((p) => (p ? p.map((x) => (x.provider === provider ? { ...x, ...patch } : x)) : p));
    // Two at a time: quick for a handful of providers, gentle on each provider's rate limit.
    let next = 0;
    const worker = async () => {
      while (next < queue.length) {
        const item = queue[next++]!;
        update(item.provider, { state: "running" });
        const r = await validateIntegrationAction(org, item.provider);
        if (r.ok) {
          const ok = r.data.integration.status === "active" || r.data.connection_test.outcome === "skipped";
          update(item.provider, {
            state: ok ? "ok" : "failed",
            message: ok ? (r.data.connection_test.outcome === "skipped" ? "Manual entry: nothing to test" : "Active") : r.data.integration.last_error?.message ?? describeOutcome(r.data.connection_test.outcome),
          });
        } else {
          update(item.provider, { state: "failed", message: r.error.message });
        }
      }
    };
    await Promise.all([worker(), worker()]);
    setRunning(false);
    await invalidate();
  }

  const done = progress?.filter((p) => p.state === "ok" || p.state === "failed").length ?? 0;
  const saasConnected = integrations.filter((i) => i.category === "saas");

  return (
    <div className="space-y-8">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Integrations</h1>
          <p className="mt-1 text-slate-700">
            {integrations.length === 0
              ? `No provider is connected for ${orgName} yet. Pick one below to connect it; the credential is tested before it is stored.`
              : `${integrations.length} connected for ${orgName}. Secrets are never shown again: compare fingerprints instead.`}
          </p>
        </div>
        {canWrite && integrations.length > 0 ? (
          <Button variant="outline" onClick={validateAll} disabled={running}>
            {running ? `Validating… ${done}/${progress?.length ?? 0}` : "Validate all"}
          </Button>
        ) : null}
      </div>

      <div aria-live="polite" className="space-y-2">
        {error ? <Alert tone="error">Could not refresh the list: {error.message}</Alert> : null}
        {progress ? (
          <Card className="px-5 py-4" data-testid="validate-all">
            <p className="text-sm font-semibold">
              {running ? `Validating ${plural(progress.length)} (${done} done)` : `Validated ${plural(progress.length)}`}
            </p>
            <ul className="mt-2 divide-y divide-slate-100 text-sm">
              {progress.map((p) => (
                <li key={p.provider} className="flex flex-wrap items-center justify-between gap-2 py-1.5" data-provider={p.provider} data-state={p.state}>
                  <span className="font-medium">{p.name}</span>
                  <span className={p.state === "failed" ? "text-red-700" : p.state === "ok" ? "text-emerald-800" : "text-slate-600"}>
                    {p.state === "waiting" ? "Waiting" : p.state === "running" ? "Testing…" : p.message}
                  </span>
                </li>
              ))}
            </ul>
          </Card>
        ) : null}
      </div>

      {categories.map((c) => {
        const cards = providers.filter((p) => p.category === c.id);
        const isSaas = c.id === "saas";
        return (
          <section key={c.id} aria-labelledby={`cat-${c.id}`}>
            <div className="flex items-baseline justify-between gap-2">
              <h2 id={`cat-${c.id}`} className="text-lg font-semibold">
                {c.name}
              </h2>
              {isFetching ? <span className="text-xs text-slate-500">Refreshing…</span> : null}
            </div>
            <p className="text-sm text-slate-600">{CATEGORY_TEXT[c.id]}</p>
            <ul className="mt-3 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
              {cards.map((p) => (
                <li key={p.id}>
                  <ProviderTile org={org} card={p} integration={byId.get(p.id)} canWrite={canWrite} />
                </li>
              ))}
              {isSaas
                ? saasConnected.map((i) => (
                    <li key={i.provider}>
                      <ProviderTile
                        org={org}
                        card={{ id: i.provider, name: String(i.metadata.label || i.name), category: "saas", credential_type_label: "Manual entry", description: "" }}
                        integration={i}
                        canWrite={canWrite}
                      />
                    </li>
                  ))
                : null}
              {isSaas && canWrite ? (
                <li>
                  <Link
                    href={`/orgs/${org}/integrations/saas`}
                    className="flex h-full min-h-40 flex-col items-center justify-center rounded-lg border border-dashed border-slate-300 bg-white p-5 text-center hover:border-brand-600 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-600"
                  >
                    <span className="text-base font-semibold text-brand-800">+ Add a SaaS vendor</span>
                    <span className="mt-1 text-sm text-slate-600">Datadog, Snowflake, GitHub… any vendor by name.</span>
                  </Link>
                </li>
              ) : null}
              {isSaas && !canWrite && saasConnected.length === 0 ? (
                <li className="text-sm text-slate-600">No SaaS vendors yet.</li>
              ) : null}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

const plural = (n: number) => `${n} integration${n === 1 ? "" : "s"}`;

function ProviderTile({ org, card, integration, canWrite }: { org: string; card: ProviderCard; integration?: Integration; canWrite: boolean }) {
  const href = `/orgs/${org}/integrations/${card.id}`;
  const status = integration?.status ?? "not_connected";
  const account = integration?.account ? integration.account.name || integration.account.id : null;
  return (
    <Card className="flex h-full flex-col p-5" data-testid={`provider-card-${card.id}`}>
      <div className="flex items-start justify-between gap-2">
        <div>
          <h3 className="font-semibold">
            <Link href={href} className="hover:underline focus-visible:outline-2 focus-visible:outline-brand-600">
              {card.name}
            </Link>
          </h3>
          <p className="text-sm text-slate-600">{card.credential_type_label}</p>
        </div>
        <StatusBadge status={status} />
      </div>
      {integration ? (
        <dl className="mt-3 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
          <dt className="text-slate-500">Fingerprint</dt>
          <dd className="font-mono" data-testid="fingerprint">
            {integration.fingerprint}
          </dd>
          {account ? (
            <>
              <dt className="text-slate-500">Account</dt>
              <dd className="truncate">{account}</dd>
            </>
          ) : null}
          <dt className="text-slate-500">Validated</dt>
          <dd>{formatDateTime(integration.last_validated_at)}</dd>
          {integration.metadata.label ? (
            <>
              <dt className="text-slate-500">Label</dt>
              <dd className="truncate">{String(integration.metadata.label)}</dd>
            </>
          ) : null}
        </dl>
      ) : (
        <p className="mt-3 text-sm text-slate-600">{card.description}</p>
      )}
      {integration?.last_error ? (
        <p className="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-900">
          <span className="font-medium">Last check: {describeOutcome(integration.last_error.code)}.</span> {integration.last_error.message}
        </p>
      ) : null}
      <div className="mt-auto pt-4">
        {integration ? (
          <Link href={href} className={buttonClasses("outline", "sm")} aria-label={`${canWrite ? "Manage" : "View"} ${card.name}`}>
            {canWrite ? "Manage" : "View"}
          </Link>
        ) : canWrite ? (
          <Link href={href} className={buttonClasses("primary", "sm")} aria-label={`Connect ${card.name}`}>
            Connect
          </Link>
        ) : (
          <Link href={href} className="text-sm text-brand-700 underline">
            What it needs
          </Link>
        )}
      </div>
    </Card>
  );
}
