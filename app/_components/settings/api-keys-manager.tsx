"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { createApiKeyAction, listApiKeysAction, revokeApiKeyAction } from "@/actions/api-keys";
import type { ApiKeyView } from "@/lib/auth/organizations";
import { unwrap } from "@/lib/ui/action-result";
import { formatDateTime } from "@/lib/ui/format";
import { Badge } from "../ui/badge";
import { DataTable } from "../ui/data-table";
import { Button } from "../ui/button";
import { ShownOnceAlert } from "../ui/shown-once";
import { ConfirmRowDialog, LiveRegion, SettingsCard, SettingsForm, useActionStatus, useRowRemoval } from "../ui/settings-list";
import { Field } from "../ui/field";
import { Input, Select } from "../ui/input";

/** Org API keys: create (shown once), list with last use, revoke. The same keys as `npm run cli -- keys …`. */
export function ApiKeysManager({ org, orgName, initial }: { org: string; orgName: string; initial: ApiKeyView[] }) {
  const qc = useQueryClient();
  const key = ["api-keys", org];
  const { data: keys } = useQuery({ queryKey: key, queryFn: async () => unwrap(await listApiKeysAction(org)), initialData: initial });
  const form = useForm<{ role: "admin" | "viewer" | "pipeline"; label: string }>({ defaultValues: { role: "viewer", label: "" } });
  const [created, setCreated] = useState<{ apiKey: string; role: string; label: string | null } | null>(null);
  const actions = useActionStatus();
  const { status, busy } = actions;
  const refresh = () => qc.invalidateQueries({ queryKey: key });
  const revoking = useRowRemoval({
    actions,
    remove: (k: ApiKeyView) => revokeApiKeyAction(org, k.id),
    done: (k) => `Key ${k.id} revoked; requests with it now get 401.`,
    refresh,
  });

  const onCreate = form.handleSubmit((v) =>
    actions.submit(
      () => createApiKeyAction(org, { role: v.role, label: v.label.trim() || undefined }),
      async (d) => {
        setCreated({ apiKey: d.apiKey, role: d.key.role, label: d.key.label });
        form.reset({ role: "viewer", label: "" });
        await refresh();
      },
    ),
  );

  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold">API keys</h1>
        <p className="mt-1 text-slate-700">
          Keys let scripts and pipelines call the REST API for {orgName} (<code className="text-sm">X-API-Key: …</code>). A viewer key
          reads; an admin key also connects, validates and deletes; a pipeline key can only fetch credentials for a cost pipeline
          (<code className="text-sm">POST /integrations/{org}/&lt;provider&gt;/access</code>) and nothing else. Keys are shown once and stored only as a hash.
        </p>
      </div>

      <SettingsForm title="Create a key" onSubmit={onCreate} className="flex flex-wrap items-end gap-4" submitLabel="Create key" busy={busy}>
        <div className="w-52">
          <Field id="key-role" label="Role" required>
            {(a) => (
              <Select {...a} {...form.register("role")}>
                <option value="viewer">viewer (read)</option>
                <option value="admin">admin (read + change)</option>
                <option value="pipeline">pipeline (…/access only)</option>
              </Select>
            )}
          </Field>
        </div>
        <div className="min-w-56 flex-1">
          <Field id="key-label" label="Label">
            {(a) => <Input {...a} {...form.register("label")} maxLength={100} placeholder="where it is used, e.g. cost pipeline (prod)" />}
          </Field>
        </div>
      </SettingsForm>

      <LiveRegion status={status}>
        {created ? (
          <ShownOnceAlert title="Copy this key now: it will not be shown again" alertTestId="new-api-key" id="new-key-value" label="New API key" value={created.apiKey} copyLabel="Copy key" testId="new-api-key-value" onDone={() => setCreated(null)}>
            <p>
              A {created.role} key{created.label ? ` for “${created.label}”` : ""}. Store it in your secret manager.
            </p>
          </ShownOnceAlert>
        ) : null}
      </LiveRegion>

      <SettingsCard
        flush
        title="Keys"
        description="Including those made with the CLI. Last use is recorded at most once a minute. A key is revoked when the member who created it is removed or demoted."
        empty={
          keys.length === 0
            ? { title: "No API keys yet", body: "Create a viewer key for a read-only script, or an admin key for automation that connects providers." }
            : null
        }
      >
        <DataTable
          caption={<>API keys of {orgName}</>}
          headClassName="border-b border-slate-200 bg-slate-50 text-xs tracking-wide text-slate-600 uppercase"
          columns={[
            { label: "Key", className: "px-5 py-2 font-medium" },
            "Role",
            "Created",
            "Created by",
            "Last used",
            "Status",
            { label: <span className="sr-only">Actions</span>, className: "px-5 py-2 font-medium" },
          ]}
        >
          {keys.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td className="px-5 py-2">
                <span className="font-medium">{k.label ?? "(no label)"}</span>
                <span className="block font-mono text-xs text-slate-500">cmk_{k.id}_…</span>
              </td>
              <td className="px-3 py-2">{k.role}</td>
              <td className="px-3 py-2 whitespace-nowrap">{formatDateTime(k.createdAt)}</td>
              <td className="px-3 py-2" data-testid="key-creator">{k.creator}</td>
              <td className="px-3 py-2 whitespace-nowrap">{formatDateTime(k.lastUsedAt)}</td>
              <td className="px-3 py-2">{k.revokedAt ? <Badge tone="neutral">Revoked</Badge> : <Badge tone="success">Active</Badge>}</td>
              <td className="px-5 py-2 text-right">
                {k.revokedAt ? null : (
                  <Button variant="outline" size="sm" onClick={() => revoking.ask(k)} aria-label={`Revoke key ${k.label ?? k.id}`}>
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      </SettingsCard>
      <ConfirmRowDialog removal={revoking} pending={busy} title="Revoke this API key?" confirmLabel="Revoke key">
        <p>
          Scripts using <code className="font-mono">cmk_{revoking.row?.id}_…</code> ({revoking.row?.label ?? "no label"}) will get 401 from now on. This
          cannot be undone; create a new key if you need one.
        </p>
      </ConfirmRowDialog>
    </div>
  );
}
