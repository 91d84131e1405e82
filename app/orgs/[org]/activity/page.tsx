import Link from "next/link";
import { listAuditEvents } from "@/lib/audit/list-audit-events";
import { AUDIT_ACTIONS, type AuditEvent, type AuditPage } from "@/lib/audit/events";
import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { AppError } from "@/lib/errors";
import { getRegistry } from "@/lib/integrations/registry";
import { Alert } from "../../../_components/ui/alert";
import { OwnersOnlyNotice } from "../../../_components/ui/owners-only";
import { Badge } from "../../../_components/ui/badge";
import { buttonClasses } from "../../../_components/ui/button";
import { Card, CardContent } from "../../../_components/ui/card";
import { EmptyState } from "../../../_components/ui/empty-state";
import { Input, Select } from "../../../_components/ui/input";
import { Label } from "../../../_components/ui/label";

export const metadata = { title: "Activity" };

const PAGE_SIZE = 50;

type Search = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (typeof v === "string" && v !== "" ? v : undefined);

/** Who did it, in words: the member's email, the key id, the operator's CLI, or the scheduler. */
function actorLabel(e: AuditEvent): string {
  switch (e.actor.type) {
    case "user":
      return e.actor.email ?? e.actor.id;
    case "api_key":
      return `API key ${e.actor.id}`;
    case "cli":
      return `CLI (${e.actor.id})`;
    case "scheduler":
      return "Scheduled re-validation";
  }
}

function fingerprints(e: AuditEvent): string {
  if (e.fingerprint_before === e.fingerprint_after) return e.fingerprint_after ?? "";
  return `${e.fingerprint_before ?? "—"} → ${e.fingerprint_after ?? "—"}`;
}

/**
 * The org's audit trail for its owners and admins: newest first, filtered by provider and action,
 * 50 a page, with a CSV export of the same filter. Rendered on the server only (no client code).
 */
export default async function ActivityPage({ params, searchParams }: { params: Promise<{ org: string }>; searchParams: Promise<Search> }) {
  const { org } = await params;
  const sp = await searchParams;
  const here = `/orgs/${org}/activity`;
  const ctx = await requireOrgPage(org, here);
  if (!ctx.canWrite) {
    return (
      <OwnersOnlyNotice heading="Activity" title="Only owners and admins see the activity">
        Your role in {ctx.org.name} is viewer. The audit trail names members, keys and addresses, so it is kept to owners and admins.
      </OwnersOnlyNotice>
    );
  }
  const filter = { provider: one(sp.provider), action: one(sp.action) };
  const cursor = one(sp.cursor);
  let page: AuditPage = { events: [], next_cursor: null };
  let problem: string | null = null;
  try {
    page = await listAuditEvents({ actor: ctx.actor, org, query: { limit: PAGE_SIZE, ...filter, ...(cursor ? { cursor } : {}) } });
  } catch (e) {
    if (e instanceof AppError && e.code === "invalid_request") problem = e.message;
    else handlePageError(e, here);
  }
  const qs = (extra: Record<string, string | undefined>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v) p.set(k, v);
    const s = p.toString();
    return s ? `?${s}` : "";
  };
  const providers = getRegistry().providers.filter((p) => !p.template);

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Activity</h1>
          <p className="mt-1 text-sm text-slate-600">
            Every change to {ctx.org.name}&apos;s credentials, keys, members and webhooks, and every credential access, whichever way it came in. Credentials appear only as fingerprints.
          </p>
        </div>
        <a href={`${here}/export${qs({})}`} className={buttonClasses("outline", "sm")} download data-testid="export-csv">
          Export CSV
        </a>
      </div>

      <form method="get" action={here} className="flex flex-wrap items-end gap-3" aria-label="Filter the activity">
        <div className="w-56 space-y-1">
          <Label htmlFor="filter-provider">Provider</Label>
          <Input id="filter-provider" name="provider" list="provider-ids" defaultValue={filter.provider ?? ""} placeholder="any provider" />
          <datalist id="provider-ids">
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </datalist>
        </div>
        <div className="w-56 space-y-1">
          <Label htmlFor="filter-action">Action</Label>
          <Select id="filter-action" name="action" defaultValue={filter.action ?? ""}>
            <option value="">any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </Select>
        </div>
        <button type="submit" className={buttonClasses("primary", "md")}>
          Filter
        </button>
        {filter.provider || filter.action ? (
          <Link href={here} className="text-sm text-brand-700 underline">
            Clear filters
          </Link>
        ) : null}
      </form>

      {problem ? (
        <Alert tone="error" title="These filters are not valid">
          {problem}
        </Alert>
      ) : page.events.length === 0 ? (
        <EmptyState title={filter.provider || filter.action ? "No events match these filters" : "No activity yet"}>
          Connecting, validating, editing or deleting an integration, creating or revoking an API key, changing members or invitations, and adding or removing a webhook all show up here.
        </EmptyState>
      ) : (
        <Card>
          <CardContent flush className="overflow-x-auto">
            <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="activity-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                <tr>
                  <th scope="col" className="px-4 py-2">When</th>
                  <th scope="col" className="px-4 py-2">Who</th>
                  <th scope="col" className="px-4 py-2">Action</th>
                  <th scope="col" className="px-4 py-2">Provider</th>
                  <th scope="col" className="px-4 py-2">Fingerprint</th>
                  <th scope="col" className="px-4 py-2">Outcome</th>
                  <th scope="col" className="px-4 py-2">Details</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {page.events.map((e) => (
                  <tr key={e.id} data-testid="activity-row" data-action={e.action}>
                    <td className="whitespace-nowrap px-4 py-2 text-slate-700">
                      <time dateTime={e.at} title={e.at}>
                        {e.at.slice(0, 19).replace("T", " ")} UTC
                      </time>
                    </td>
                    <td className="px-4 py-2">{actorLabel(e)}</td>
                    <td className="whitespace-nowrap px-4 py-2 font-mono text-xs">{e.action}</td>
                    <td className="px-4 py-2">{e.provider ?? ""}</td>
                    <td className="whitespace-nowrap px-4 py-2 font-mono text-xs">{fingerprints(e)}</td>
                    <td className="px-4 py-2">
                      <Badge tone={e.outcome === "ok" ? "success" : e.outcome === "skipped" ? "neutral" : "danger"}>{e.outcome}</Badge>
                    </td>
                    <td className="px-4 py-2 text-xs text-slate-600">
                      {e.target ? <div>{e.target}</div> : null}
                      <div>
                        {e.client_ip ? `from ${e.client_ip} · ` : ""}request <span title={e.request_id}>{e.request_id.slice(0, 8)}</span>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </CardContent>
        </Card>
      )}

      <nav aria-label="Pages" className="flex gap-3">
        {cursor ? (
          <Link href={`${here}${qs({})}`} className={buttonClasses("outline", "sm")}>
            Newest
          </Link>
        ) : null}
        {page.next_cursor ? (
          <Link href={`${here}${qs({ cursor: page.next_cursor })}`} className={buttonClasses("outline", "sm")} data-testid="older-events">
            Older events
          </Link>
        ) : null}
      </nav>
    </div>
  );
}
