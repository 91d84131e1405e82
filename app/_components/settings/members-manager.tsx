"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useForm } from "react-hook-form";
import { cancelInvitationAction, inviteMemberAction, listMembersAction, removeMemberAction, updateMemberRoleAction } from "@/actions/members";
import type { InvitationView, MemberView } from "@/lib/auth/org-accounts";
import { unwrap } from "@/lib/ui/action-result";
import { formatDateTime } from "@/lib/ui/format";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "../ui/card";
import { CopyButton } from "../ui/copy-button";
import { ShownOnceAlert } from "../ui/shown-once";
import { Field } from "../ui/field";
import { ConfirmRowDialog, LiveRegion, SettingsCard, SettingsForm, useActionStatus, useRowRemoval } from "../ui/settings-list";
import { Input, Select } from "../ui/input";

type Data = { members: MemberView[]; invitations: InvitationView[] };

/**
 * Members and roles; invitations (mailed to the invited address; owners and admins can also copy
 * the link: it is a bearer secret, so viewers never receive it); role changes and removal.
 */
export function MembersManager({ org, orgName, myRole, initial }: { org: string; orgName: string; myRole: string; initial: Data }) {
  const qc = useQueryClient();
  const key = ["members", org];
  const { data } = useQuery({ queryKey: key, queryFn: async () => unwrap(await listMembersAction(org)), initialData: initial });
  const canManage = myRole === "owner" || myRole === "admin";
  const [origin, setOrigin] = useState("");
  useEffect(() => setOrigin(window.location.origin), []);
  const form = useForm<{ email: string; role: "admin" | "viewer" }>({ defaultValues: { email: "", role: "viewer" } });
  const [lastInvite, setLastInvite] = useState<InvitationView | null>(null);
  const actions = useActionStatus();
  const { status, setStatus, busy } = actions;
  const refresh = () => qc.invalidateQueries({ queryKey: key });
  const removing = useRowRemoval({
    actions,
    remove: (m: MemberView) => removeMemberAction(org, m.id),
    done: (m, d) => `${m.email} was removed from ${orgName}.${withdrawnText(d)}`,
    refresh,
  });
  const link = (token: string) => `${origin}/invite/${token}`;

  const onInvite = form.handleSubmit((v) =>
    actions.submit(
      () => inviteMemberAction(org, v),
      async (d) => {
        setLastInvite(d);
        form.reset({ email: "", role: "viewer" });
        await refresh();
      },
      (error) => {
        if (error.fields?.email) form.setError("email", { message: error.fields.email });
      },
    ),
  );

  const changeRole = async (m: MemberView, role: string) => {
    setStatus(null);
    const r = await updateMemberRoleAction(org, m.id, role);
    setStatus(r.ok ? { tone: "success", text: `${m.email} is now ${role}.${withdrawnText(r.data)}` } : { tone: "error", text: r.error.message });
    await refresh();
  };

  const cancel = async (inv: InvitationView) => {
    const r = await cancelInvitationAction(org, inv.id);
    setStatus(r.ok ? { tone: "success", text: `The invitation for ${inv.email} was canceled; its link no longer works.` } : { tone: "error", text: r.error.message });
    if (lastInvite?.id === inv.id) setLastInvite(null);
    await refresh();
  };

  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold">Members</h1>
        <p className="mt-1 text-slate-700">
          Owners and admins connect providers and manage keys and members; viewers see the integrations but change nothing.
        </p>
      </div>

      {canManage ? (
        <SettingsForm
          title="Invite"
          description="We mail the invitation link to the address (on a server without SMTP it waits in the operator's outbox). Only that address can accept it, within 7 days. Treat the link like a password: whoever holds it can join as that address."
          onSubmit={onInvite}
          className="flex flex-wrap items-end gap-4"
          submitLabel="Create invitation"
          busy={busy}
        >
          <div className="min-w-56 flex-1">
            <Field id="invite-email" label="Email" required error={form.formState.errors.email?.message}>
              {(a) => <Input {...a} type="email" autoComplete="off" {...form.register("email", { required: "is required" })} />}
            </Field>
          </div>
          <div className="w-40">
            <Field id="invite-role" label="Role" required>
              {(a) => (
                <Select {...a} {...form.register("role")}>
                  <option value="viewer">viewer</option>
                  <option value="admin">admin</option>
                </Select>
              )}
            </Field>
          </div>
        </SettingsForm>
      ) : null}

      <LiveRegion status={status}>
        {lastInvite ? (
          <ShownOnceAlert
            tone={lastInvite.mail === "failed" ? "warning" : "success"}
            title={`Invitation for ${lastInvite.email} (${lastInvite.role})`}
            alertTestId="invite-link"
            className=""
            id="invite-link-value"
            label="Invitation link"
            value={link(lastInvite.token)}
            copyLabel="Copy link"
            testId="invite-link-value"
          >
            <p data-testid="invite-mail">
              {lastInvite.mail === "smtp"
                ? `The link was mailed to ${lastInvite.email}.`
                : lastInvite.mail === "outbox"
                  ? "This server sends no mail (no SMTP_URL): the message is in its outbox; or hand over the link yourself."
                  : "The mail could not be sent: hand over the link yourself."}
            </p>
          </ShownOnceAlert>
        ) : null}
      </LiveRegion>

      <SettingsCard flush title={<>People in {orgName}</>}>
        <ul className="divide-y divide-slate-100">
          {data.members.map((m) => (
            <li key={m.id} className="flex flex-wrap items-center gap-3 px-5 py-3" data-member={m.email}>
              <div className="min-w-48 flex-1">
                <p className="font-medium">
                  {m.name || m.email} {m.isYou ? <Badge tone="info">you</Badge> : null}
                </p>
                <p className="text-sm text-slate-600">
                  {m.email} · joined {formatDateTime(m.joinedAt)}
                </p>
              </div>
              {canManage && !m.isYou && (myRole === "owner" || m.role !== "owner") ? (
                <>
                  <label htmlFor={`role-${m.id}`} className="sr-only">
                    Role of {m.email}
                  </label>
                  <Select id={`role-${m.id}`} className="w-32" value={m.role} onChange={(e) => void changeRole(m, e.target.value)}>
                    {myRole === "owner" ? <option value="owner">owner</option> : null}
                    <option value="admin">admin</option>
                    <option value="viewer">viewer</option>
                  </Select>
                  <Button variant="outline" size="sm" onClick={() => removing.ask(m)} aria-label={`Remove ${m.email}`}>
                    Remove
                  </Button>
                </>
              ) : (
                <Badge tone={m.role === "viewer" ? "neutral" : "info"}>{m.role}</Badge>
              )}
            </li>
          ))}
        </ul>
      </SettingsCard>

      {canManage ? (
        <Card>
          <CardHeader>
            <CardTitle>Pending invitations</CardTitle>
          </CardHeader>
          <CardContent flush={data.invitations.length > 0}>
            {data.invitations.length === 0 ? (
              <p className="text-sm text-slate-600">None. Invite someone above; their invitation waits here until they accept it.</p>
            ) : (
              <ul className="divide-y divide-slate-100">
                {data.invitations.map((i) => (
                  <li key={i.id} className="flex flex-wrap items-center gap-3 px-5 py-3">
                    <div className="min-w-48 flex-1">
                      <p className="font-medium">{i.email}</p>
                      <p className="text-sm text-slate-600">
                        {i.role} · expires {formatDateTime(i.expiresAt)}
                      </p>
                    </div>
                    <CopyButton value={link(i.token)} label="Copy link" />
                    <Button variant="ghost" size="sm" onClick={() => void cancel(i)} aria-label={`Cancel the invitation for ${i.email}`}>
                      Cancel
                    </Button>
                  </li>
                ))}
              </ul>
            )}
          </CardContent>
        </Card>
      ) : null}

      <ConfirmRowDialog removal={removing} pending={busy} title={`Remove ${removing.row?.email ?? ""}?`} confirmLabel="Remove member">
        <p>
          They lose access to {orgName} at once: its integrations, members and API keys. The API keys they created are revoked too: scripts
          using them get 401 from now on. Invitations they sent and nobody has accepted yet are canceled, and webhook endpoints they added are removed.
        </p>
      </ConfirmRowDialog>
    </div>
  );
}

function withdrawnText({ revokedKeys: n, canceledInvitations: i, deletedWebhooks: w }: { revokedKeys: number; canceledInvitations: number; deletedWebhooks: number }): string {
  const keys = n === 0 ? "" : ` ${n} API key${n === 1 ? "" : "s"} they created ${n === 1 ? "was" : "were"} revoked.`;
  const invitations = i === 0 ? "" : ` ${i} invitation${i === 1 ? "" : "s"} they sent ${i === 1 ? "was" : "were"} canceled.`;
  const webhooks = w === 0 ? "" : ` ${w} webhook endpoint${w === 1 ? "" : "s"} they added ${w === 1 ? "was" : "were"} removed.`;
  return keys + invitations + webhooks;
}
