import Link from "next/link";
import type { Integration } from "@/lib/integrations/schemas";
import { attentionAction, describeOutcome, formatLastValidated, isManualEntry, needsAttention } from "@/lib/ui/format";
import type { ProviderCard } from "@/lib/ui/provider-view";
import { cn } from "@/lib/ui/cn";
import { StatusBadge } from "./status-badge";
import { ValidateAll } from "./validate-all";

const CATEGORY_TEXT: Record<string, string> = {
  cloud: "Billing exports and cost APIs",
  genai: "Model providers' cost and usage APIs",
  saas: "Spend entered by hand; nothing is tested",
};

/**
 * The org's integrations (a server component: no client state but "Validate all"). A summary line,
 * then what is connected, needs-attention first, as a compact list; then the providers not yet
 * connected, as a picker by category.
 */
export function IntegrationsOverview({
  org,
  orgName,
  integrations,
  providers,
  categories,
  canWrite,
}: {
  org: string;
  orgName: string;
  integrations: Integration[];
  providers: ProviderCard[];
  categories: Array<{ id: string; name: string }>;
  canWrite: boolean;
}) {
  const connected = new Set(integrations.map((i) => i.provider));
  const attention = integrations.filter(needsAttention);
  const active = integrations.filter((i) => i.status === "active" && !needsAttention(i));
  // Needs attention first, then by category order, then by name.
  const catOrder = new Map(categories.map((c, i) => [c.id, i]));
  const sorted = [...integrations].sort(
    (a, b) =>
      Number(needsAttention(b)) - Number(needsAttention(a)) ||
      (catOrder.get(a.category) ?? 9) - (catOrder.get(b.category) ?? 9) ||
      displayName(a).localeCompare(displayName(b)),
  );
  const notConnected = providers.filter((p) => !connected.has(p.id));
  const testable = integrations.filter((i) => !isManualEntry(i)).map((i) => ({ provider: i.provider, name: displayName(i) }));

  return (
    <div className="space-y-8">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold">Integrations</h1>
          <p className="mt-1 text-slate-700" data-testid="overview-summary">
            <Count n={active.length} label="active" tone="text-emerald-800" />
            {" · "}
            <Count n={attention.length} label={attention.length === 1 ? "needs attention" : "need attention"} tone={attention.length ? "text-red-800" : undefined} />
            {" · "}
            <Count n={notConnected.length} label="not connected" />
          </p>
          {integrations.length === 0 ? (
            <p className="mt-1 text-sm text-slate-600">
              No provider is connected for {orgName} yet. Pick one below; the credential is tested before it is stored.
            </p>
          ) : null}
        </div>
        {canWrite && testable.length > 0 ? <ValidateAll org={org} items={testable} /> : null}
      </div>

      {integrations.length > 0 ? (
        <section aria-labelledby="connected">
          <h2 id="connected" className="text-lg font-semibold">
            Connected
          </h2>
          <p className="text-sm text-slate-600">Secrets are never shown again: compare fingerprints instead.</p>
          <ul className="mt-3 divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm">
            {sorted.map((i) => (
              <ConnectedRow key={i.provider} org={org} integration={i} canWrite={canWrite} />
            ))}
          </ul>
        </section>
      ) : null}

      <section aria-labelledby="add">
        <h2 id="add" className="text-lg font-semibold">
          {integrations.length === 0 ? "Connect a provider" : "Not connected"}
        </h2>
        <div className="mt-3 grid gap-4 md:grid-cols-3">
          {categories.map((c) => {
            const items = notConnected.filter((p) => p.category === c.id);
            const isSaas = c.id === "saas";
            if (items.length === 0 && !isSaas) return null;
            return (
              <div key={c.id} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid={`picker-${c.id}`}>
                <h3 className="text-sm font-semibold text-slate-900">{c.name}</h3>
                <p className="text-xs text-slate-600">{CATEGORY_TEXT[c.id]}</p>
                <ul className="mt-2 flex flex-wrap gap-2">
                  {items.map((p) => (
                    <li key={p.id} data-testid={`provider-card-${p.id}`}>
                      <Link
                        href={`/orgs/${org}/integrations/${p.id}`}
                        aria-label={canWrite ? `Connect ${p.name}` : `${p.name}: what it needs`}
                        title={p.credential_type_label}
                        className="inline-flex items-center gap-1.5 rounded-full border border-slate-300 bg-white px-3 py-1 text-sm text-slate-800 hover:border-brand-600 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-600"
                      >
                        {canWrite ? <span aria-hidden="true" className="text-brand-700">+</span> : null}
                        {p.name}
                        <span className="sr-only"> (Not connected)</span>
                      </Link>
                    </li>
                  ))}
                  {isSaas && canWrite ? (
                    <li>
                      <Link
                        href={`/orgs/${org}/integrations/saas`}
                        className="inline-flex items-center rounded-full border border-dashed border-slate-400 px-3 py-1 text-sm font-medium text-brand-800 hover:border-brand-600 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-600"
                      >
                        + Add a SaaS vendor
                      </Link>
                    </li>
                  ) : null}
                  {isSaas && !canWrite && items.length === 0 ? <li className="text-sm text-slate-600">Owners and admins add vendors.</li> : null}
                </ul>
              </div>
            );
          })}
        </div>
      </section>
    </div>
  );
}

function Count({ n, label, tone }: { n: number; label: string; tone?: string }) {
  return (
    <span className={cn(n > 0 && tone)}>
      <span className="font-semibold">{n}</span> {label}
    </span>
  );
}

const displayName = (i: Integration) => (isManualEntry(i) && i.metadata.label ? String(i.metadata.label) : i.name);

/** One connected integration: status, account, fingerprint, last validated, last error; what to do if it needs attention. */
function ConnectedRow({ org, integration: i, canWrite }: { org: string; integration: Integration; canWrite: boolean }) {
  const href = `/orgs/${org}/integrations/${i.provider}`;
  const name = displayName(i);
  const attention = needsAttention(i);
  const account = i.account ? i.account.name || i.account.id : null;
  return (
    <li
      className={cn("px-4 py-3", attention && "border-l-4 border-l-red-600 bg-red-50/60")}
      data-testid={`provider-card-${i.provider}`}
      data-attention={attention ? "true" : "false"}
    >
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <Link href={href} className="font-semibold hover:underline focus-visible:outline-2 focus-visible:outline-brand-600" aria-label={`${canWrite ? "Manage" : "View"} ${name}`}>
          {name}
        </Link>
        <StatusBadge status={i.status} />
        {i.metadata.label && !isManualEntry(i) ? <span className="truncate text-sm text-slate-600">{String(i.metadata.label)}</span> : null}
      </div>
      <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-sm text-slate-700 sm:flex sm:flex-wrap sm:gap-x-5">
        <div className="contents sm:flex sm:gap-1.5">
          <dt className="text-slate-500">Account</dt>
          <dd className="min-w-0 truncate">{account ?? "—"}</dd>
        </div>
        <div className="contents sm:flex sm:gap-1.5">
          <dt className="text-slate-500">Fingerprint</dt>
          <dd className="font-mono" data-testid="fingerprint">
            {i.fingerprint}
          </dd>
        </div>
        <div className="contents sm:flex sm:gap-1.5">
          <dt className="text-slate-500">Last validated</dt>
          <dd data-testid="last-validated">{formatLastValidated(i)}</dd>
        </div>
      </dl>
      {i.last_error ? (
        <p className="mt-1.5 text-sm text-red-900" data-testid="last-error">
          <span className="font-medium">Last error: {describeOutcome(i.last_error.code)}.</span> {i.last_error.message}
        </p>
      ) : null}
      {attention ? (
        <p className="mt-1.5 text-sm font-medium text-red-900" data-testid="attention-action">
          {canWrite ? (
            <Link href={href} className="underline">
              {attentionAction(i)} →
            </Link>
          ) : (
            <>{attentionAction(i)} (ask an owner or admin)</>
          )}
        </p>
      ) : null}
    </li>
  );
}
