"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { createApiKeyAction, listApiKeysAction, revokeApiKeyAction } from "@/actions/api-keys";
import type { ApiKeyView } from "@/lib/auth/organizations";
import { unwrap } from "@/lib/ui/action-result";
import { formatDateTime } from "@/lib/ui/format";
import { Alert } from "../ui/alert";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { ShownOnceValue } from "../ui/shown-once";
import { ConfirmDialog } from "../ui/dialog";
import { EmptyState } from "../ui/empty-state";
import { Field } from "../ui/field";
import { Input, Select } from "../ui/input";

/** Org API keys: create (shown once), list with last use, revoke. The same keys as `npm run cli -- keys …`. */
export function ApiKeysManager({ org, orgName, initial }: { org: string; orgName: string; initial: ApiKeyView[] }) {
  const qc = useQueryClient();
  const key = ["api-keys", org];
  const { data: keys } = useQuery({ queryKey: key, queryFn: async () => unwrap(await listApiKeysAction(org)), initialData: initial });
  const form = useForm<{ role: "admin" | "viewer" | "pipeline"; label: string }>({ defaultValues: { role: "viewer", label: "" } });
  const [created, setCreated] = useState<{ apiKey: string; role: string; label: string | null } | null>(null);
  const [status, setStatus] = useState<{ tone: "success" | "error"; text: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKeyView | null>(null);
  const [busy, setBusy] = useState(false);

  const onCreate = form.handleSubmit(async (v) => {
    setStatus(null);
    setBusy(true);
    const r = await createApiKeyAction(org, { role: v.role, label: v.label.trim() || undefined });
    setBusy(false);
    if (r.ok) {
      setCreated({ apiKey: r.data.apiKey, role: r.data.key.role, label: r.data.key.label });
      form.reset({ role: "viewer", label: "" });
      await qc.invalidateQueries({ queryKey: key });
    } else setStatus({ tone: "error", text: r.error.message });
  });

  const onRevoke = async () => {
    if (!revoking) return;
    setBusy(true);
    const r = await revokeApiKeyAction(org, revoking.id);
    setBusy(false);
    setStatus(r.ok ? { tone: "success", text: `Key ${revoking.id} revoked; requests with it now get 401.` } : { tone: "error", text: r.error.message });
    setRevoking(null);
    await qc.invalidateQueries({ queryKey: key });
  };

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

      <Card>
        <CardHeader>
          <CardTitle>Create a key</CardTitle>
        </CardHeader>
        <CardContent>
          <form onSubmit={onCreate} className="flex flex-wrap items-end gap-4" noValidate>
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
            <Button type="submit" disabled={busy}>
              Create key
            </Button>
          </form>
        </CardContent>
      </Card>

      <div aria-live="polite" className="space-y-3">
        {created ? (
          <Alert tone="success" title="Copy this key now: it will not be shown again" data-testid="new-api-key">
            <p>
              A {created.role} key{created.label ? ` for “${created.label}”` : ""}. Store it in your secret manager.
            </p>
            <ShownOnceValue id="new-key-value" label="New API key" value={created.apiKey} copyLabel="Copy key" testId="new-api-key-value" onDone={() => setCreated(null)} />
          </Alert>
        ) : null}
        {status ? <Alert tone={status.tone}>{status.text}</Alert> : null}
      </div>

      <Card>
        <CardHeader>
          <CardTitle>Keys</CardTitle>
          <CardDescription>
            Including those made with the CLI. Last use is recorded at most once a minute. A key is revoked when the member who created it is
            removed or demoted.
          </CardDescription>
        </CardHeader>
        <CardContent flush>
          {keys.length === 0 ? (
            <div className="p-5">
              <EmptyState title="No API keys yet">Create a viewer key for a read-only script, or an admin key for automation that connects providers.</EmptyState>
            </div>
          ) : (
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm">
                <caption className="sr-only">API keys of {orgName}</caption>
                <thead className="border-b border-slate-200 bg-slate-50 text-xs tracking-wide text-slate-600 uppercase">
                  <tr>
                    <th scope="col" className="px-5 py-2 font-medium">Key</th>
                    <th scope="col" className="px-3 py-2 font-medium">Role</th>
                    <th scope="col" className="px-3 py-2 font-medium">Created</th>
                    <th scope="col" className="px-3 py-2 font-medium">Created by</th>
                    <th scope="col" className="px-3 py-2 font-medium">Last used</th>
                    <th scope="col" className="px-3 py-2 font-medium">Status</th>
                    <th scope="col" className="px-5 py-2 font-medium"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
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
                          <Button variant="outline" size="sm" onClick={() => setRevoking(k)} aria-label={`Revoke key ${k.label ?? k.id}`}>
                            Revoke
                          </Button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </CardContent>
      </Card>
      <ConfirmDialog
        open={revoking !== null}
        onClose={() => setRevoking(null)}
        onConfirm={onRevoke}
        pending={busy}
        title="Revoke this API key?"
        confirmLabel="Revoke key"
        description={
          <p>
            Scripts using <code className="font-mono">cmk_{revoking?.id}_…</code> ({revoking?.label ?? "no label"}) will get 401 from now on. This
            cannot be undone; create a new key if you need one.
          </p>
        }
      />
    </div>
  );
}
