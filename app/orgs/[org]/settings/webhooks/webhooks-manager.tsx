"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { unwrap } from "@/lib/ui/action-result";
import { formatDateTime } from "@/lib/ui/format";
import { WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS, type WebhookEventType } from "@/lib/webhooks/events";
import type { WebhookDeliveryView } from "@/lib/webhooks/schemas";
import type { WebhookPageView } from "@/lib/webhooks/list-webhooks";
import { Badge, type BadgeTone } from "../../../../_components/ui/badge";
import { DataTable } from "../../../../_components/ui/data-table";
import { Button } from "../../../../_components/ui/button";
import { ShownOnceAlert } from "../../../../_components/ui/shown-once";
import { ConfirmRowDialog, LiveRegion, SettingsCard, SettingsForm, useActionStatus, useRowRemoval } from "../../../../_components/ui/settings-list";
import { Field } from "../../../../_components/ui/field";
import { Input } from "../../../../_components/ui/input";
import { createWebhookAction, deleteWebhookAction, listWebhookDeliveriesAction, listWebhooksAction } from "./actions";

const STATUS_TONE: Record<WebhookDeliveryView["status"], BadgeTone> = { delivered: "success", pending: "warning", failed: "danger" };

/** Webhook endpoints: add (the signing secret shown once), remove, and each endpoint's delivery log. */
export function WebhooksManager({ org, orgName, initial }: { org: string; orgName: string; initial: WebhookPageView[] }) {
  const qc = useQueryClient();
  const key = ["webhooks", org];
  const { data: hooks } = useQuery({ queryKey: key, queryFn: async () => unwrap(await listWebhooksAction(org)), initialData: initial });
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<WebhookEventType[]>([...WEBHOOK_EVENTS]);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null);
  const [openLog, setOpenLog] = useState<string | null>(null);
  const actions = useActionStatus();
  const { status, busy } = actions;
  const refresh = () => qc.invalidateQueries({ queryKey: key });
  const removing = useRowRemoval({
    actions,
    remove: (h: WebhookPageView) => deleteWebhookAction(org, h.id),
    done: (h) => `Endpoint ${h.url} removed; it gets no more events.`,
    refresh,
    after: (h) => {
      if (openLog === h.id) setOpenLog(null);
    },
  });

  const onCreate = async (e: React.FormEvent) => {
    e.preventDefault();
    setFieldErrors({});
    await actions.submit(
      () => createWebhookAction(org, { url: url.trim(), events }),
      async (d) => {
        setCreated({ url: d.url, secret: d.secret });
        setUrl("");
        setEvents([...WEBHOOK_EVENTS]);
        await refresh();
      },
      (error) => setFieldErrors(error.fields ?? {}),
    );
  };

  const toggle = (ev: WebhookEventType) => setEvents((cur) => (cur.includes(ev) ? cur.filter((x) => x !== ev) : WEBHOOK_EVENTS.filter((x) => x === ev || cur.includes(x))));
  const eventsError = Object.entries(fieldErrors).find(([k]) => k === "events" || k.startsWith("events."))?.[1];

  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold">Webhooks</h1>
        <p className="mt-1 text-slate-700">
          {orgName} can tell your systems when a credential is connected, replaced or deleted, and when a connection test changes its status
          (for example, a key that stopped working). Each request is signed the{" "}
          <a className="text-brand-700 underline" href="https://www.standardwebhooks.com/" target="_blank" rel="noreferrer">
            Standard Webhooks
          </a>{" "}
          way (<code className="text-sm">webhook-id</code>, <code className="text-sm">webhook-timestamp</code>, <code className="text-sm">webhook-signature</code>) and
          retried with backoff for 24 hours. Bodies carry fingerprints and statuses, never a credential. Owners and admins are also emailed.
        </p>
      </div>

      <SettingsForm
        title="Add an endpoint"
        description="An https URL on a public host (private, loopback and cloud metadata addresses are refused)."
        onSubmit={onCreate}
        className="space-y-4"
        testId="webhook-form"
        submitLabel="Add endpoint"
        busy={busy}
      >
        <Field id="webhook-url" label="Endpoint URL" required error={fieldErrors.url}>
          {(a) => <Input {...a} type="url" value={url} onChange={(e) => setUrl(e.target.value)} maxLength={2048} placeholder="https://hooks.example.com/credential-manager" />}
        </Field>
        <fieldset aria-describedby={eventsError ? "webhook-events-error" : undefined}>
          <legend className="text-sm font-medium text-slate-900">Events</legend>
          <div className="mt-2 grid gap-2 sm:grid-cols-2">
            {WEBHOOK_EVENTS.map((ev) => (
              <label key={ev} className="flex items-start gap-2 text-sm">
                <input type="checkbox" className="mt-1" checked={events.includes(ev)} onChange={() => toggle(ev)} />
                <span>
                  <code className="text-xs">{ev}</code>
                  <span className="block text-slate-600">{WEBHOOK_EVENT_LABELS[ev]}</span>
                </span>
              </label>
            ))}
          </div>
          {eventsError ? (
            <p id="webhook-events-error" className="mt-1 text-sm text-red-700">
              Events {eventsError}
            </p>
          ) : null}
        </fieldset>
      </SettingsForm>

      <LiveRegion status={status}>
        {created ? (
          <ShownOnceAlert title="Copy this signing secret now: it will not be shown again" alertTestId="new-webhook-secret" id="new-webhook-secret-value" label="Signing secret" value={created.secret} copyLabel="Copy secret" testId="new-webhook-secret-value" onDone={() => setCreated(null)}>
            <p>Verify every request to {created.url} with it (any Standard Webhooks library does this).</p>
          </ShownOnceAlert>
        ) : null}
      </LiveRegion>

      <SettingsCard
        flush
        title="Endpoints"
        description="Including those added over the REST API. An endpoint is removed when the member who added it is removed or demoted."
        empty={hooks.length === 0 ? { title: "No endpoints yet", body: "Add one to hear about credential changes in your own systems (chat, paging, a SIEM)." } : null}
      >
        <ul className="divide-y divide-slate-100">
          {hooks.map((h) => (
            <li key={h.id} className="px-5 py-4" data-webhook-id={h.id} data-testid="webhook-row">
              <div className="flex flex-wrap items-start gap-3">
                <div className="min-w-0 flex-1">
                  <p className="font-mono text-sm break-all">{h.url}</p>
                  <p className="mt-1 flex flex-wrap gap-1">
                    {h.events.map((ev) => (
                      <Badge key={ev} tone="info">
                        {ev}
                      </Badge>
                    ))}
                  </p>
                  <p className="mt-1 text-xs text-slate-500">
                    {h.id} · added {formatDateTime(h.created_at)}
                    {h.creator ? <span data-testid="webhook-creator"> by {h.creator}</span> : null}
                  </p>
                </div>
                <Button variant="outline" size="sm" aria-expanded={openLog === h.id} onClick={() => setOpenLog(openLog === h.id ? null : h.id)}>
                  {openLog === h.id ? "Hide deliveries" : "Deliveries"}
                </Button>
                <Button variant="outline" size="sm" onClick={() => removing.ask(h)} aria-label={`Remove endpoint ${h.url}`}>
                  Remove
                </Button>
              </div>
              {openLog === h.id ? <DeliveryLog org={org} webhookId={h.id} /> : null}
            </li>
          ))}
        </ul>
      </SettingsCard>
      <ConfirmRowDialog removal={removing} pending={busy} title="Remove this endpoint?" confirmLabel="Remove endpoint">
        <p>
          <code className="font-mono break-all">{removing.row?.url}</code> will get no more events, and its delivery log is deleted. Queued retries are dropped.
        </p>
      </ConfirmRowDialog>
    </div>
  );
}

function DeliveryLog({ org, webhookId }: { org: string; webhookId: string }) {
  const { data, isFetching, error, refetch } = useQuery({
    queryKey: ["webhook-deliveries", org, webhookId],
    queryFn: async () => unwrap(await listWebhookDeliveriesAction(org, webhookId)),
    refetchInterval: 10_000,
  });
  return (
    <div className="mt-3 rounded-md border border-slate-200" data-testid="delivery-log">
      <div className="flex items-center justify-between border-b border-slate-200 bg-slate-50 px-3 py-2">
        <h3 className="text-sm font-medium">Delivery log (newest first)</h3>
        <Button variant="ghost" size="sm" onClick={() => void refetch()} disabled={isFetching}>
          Refresh
        </Button>
      </div>
      {error ? (
        <p className="p-3 text-sm text-red-700">{(error as Error).message}</p>
      ) : !data ? (
        <p className="p-3 text-sm text-slate-600">Loading…</p>
      ) : data.length === 0 ? (
        <p className="p-3 text-sm text-slate-600">No deliveries yet: they appear when an integration of this organization changes.</p>
      ) : (
        <DataTable
          caption="Deliveries to this endpoint"
          headClassName="text-xs tracking-wide text-slate-600 uppercase"
          columns={[
            "Event",
            "Status",
            "Attempts",
            "Last response",
            "Next attempt",
            "Queued",
          ]}
        >
          {data.map((d) => (
            <tr key={d.id} data-delivery-id={d.id} data-status={d.status}>
              <td className="px-3 py-2">
                <code className="text-xs">{d.event}</code>
                {d.provider ? <span className="block text-xs text-slate-500">{d.provider}</span> : null}
              </td>
              <td className="px-3 py-2">
                <Badge tone={STATUS_TONE[d.status]}>{d.status}</Badge>
              </td>
              <td className="px-3 py-2">{d.attempts}</td>
              <td className="px-3 py-2">
                {d.last_response_code ?? "—"}
                {d.last_error ? <span className="block max-w-xs text-xs text-slate-600">{d.last_error}</span> : null}
              </td>
              <td className="px-3 py-2 whitespace-nowrap">{d.status === "pending" ? formatDateTime(d.next_attempt_at) : "—"}</td>
              <td className="px-3 py-2 whitespace-nowrap">{formatDateTime(d.created_at)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </div>
  );
}
