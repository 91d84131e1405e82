"use client";

import { useState, type FormEventHandler, type ReactNode } from "react";
import type { ActionError, ActionResult } from "@/lib/ui/action-result";
import { Alert } from "./alert";
import { Button } from "./button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "./card";
import { ConfirmDialog } from "./dialog";
import { EmptyState } from "./empty-state";

/**
 * The building blocks the settings pages (API keys, members, webhooks) share: a list in a card,
 * the live region that reports what the last action did, and removing a row after a confirmation.
 */

/** The outcome of the last action on a settings page. */
export type StatusMessage = { tone: "success" | "error"; text: string };

/** The polite live region under a form: what is shown once (children), then the last action's outcome. */
export function LiveRegion({ status, children }: { status: StatusMessage | null; children?: ReactNode }) {
  return (
    <div aria-live="polite" className="space-y-3">
      {children}
      {status ? <Alert tone={status.tone}>{status.text}</Alert> : null}
    </div>
  );
}

/**
 * A settings card: a title, an optional description, then a form, or (`flush`) a list or table edge to
 * edge; when `empty` is given, an empty state in its place.
 */
export function SettingsCard({
  title,
  description,
  flush,
  empty,
  children,
}: {
  title: ReactNode;
  description?: ReactNode;
  flush?: boolean;
  empty?: { title: string; body: ReactNode } | null;
  children?: ReactNode;
}) {
  return (
    <Card>
      <CardHeader>
        <CardTitle>{title}</CardTitle>
        {description ? <CardDescription>{description}</CardDescription> : null}
      </CardHeader>
      <CardContent flush={flush}>
        {empty ? (
          <div className="p-5">
            <EmptyState title={empty.title}>{empty.body}</EmptyState>
          </div>
        ) : (
          children
        )}
      </CardContent>
    </Card>
  );
}

/** A SettingsCard holding one form: its fields (children), then the submit button, disabled while `busy`. */
export function SettingsForm({
  title,
  description,
  onSubmit,
  className,
  testId,
  submitLabel,
  busy,
  children,
}: {
  title: ReactNode;
  description?: ReactNode;
  onSubmit: FormEventHandler<HTMLFormElement>;
  className: string;
  testId?: string;
  submitLabel: string;
  busy: boolean;
  children: ReactNode;
}) {
  return (
    <SettingsCard title={title} description={description}>
      <form onSubmit={onSubmit} className={className} noValidate data-testid={testId}>
        {children}
        <Button type="submit" disabled={busy}>
          {submitLabel}
        </Button>
      </form>
    </SettingsCard>
  );
}

/**
 * A settings page's action state: the last outcome (`status`), `busy` while an action runs, and
 * `submit` for a form: it clears the status, runs the action with `busy` on, then calls `onOk` with
 * its data, or `onError` (to mark fields) and shows the refusal.
 */
export function useActionStatus() {
  const [status, setStatus] = useState<StatusMessage | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async <D,>(act: () => Promise<ActionResult<D>>, onOk: (data: D) => Promise<unknown> | void, onError?: (error: ActionError) => void) => {
    setStatus(null);
    setBusy(true);
    const r = await act();
    setBusy(false);
    if (r.ok) await onOk(r.data);
    else {
      onError?.(r.error);
      setStatus({ tone: "error", text: r.error.message });
    }
  };
  return { status, setStatus, busy, setBusy, submit };
}

/**
 * Removing (or revoking) one row after a ConfirmRowDialog: `ask(row)` opens it; confirming runs
 * `remove(row)` with `busy` on, shows the outcome (`done` words a success), closes the dialog and
 * refreshes the list.
 */
export function useRowRemoval<T, D>({
  actions,
  remove,
  done,
  refresh,
  after,
}: {
  actions: Pick<ReturnType<typeof useActionStatus>, "setStatus" | "setBusy">;
  remove: (row: T) => Promise<ActionResult<D>>;
  done: (row: T, data: D) => string;
  refresh: () => Promise<unknown>;
  /** Runs once the outcome is known, whatever it is (e.g. to close what showed the row). */
  after?: (row: T) => void;
}) {
  const [row, setRow] = useState<T | null>(null);
  const onConfirm = async () => {
    if (!row) return;
    actions.setBusy(true);
    const r = await remove(row);
    actions.setBusy(false);
    actions.setStatus(r.ok ? { tone: "success", text: done(row, r.data) } : { tone: "error", text: r.error.message });
    after?.(row);
    setRow(null);
    await refresh();
  };
  return { row, ask: (r: T) => setRow(r), dialog: { open: row !== null, onClose: () => setRow(null), onConfirm: () => void onConfirm() } };
}

/** The "are you sure?" for a useRowRemoval; children spell out the consequence. */
export function ConfirmRowDialog({
  removal,
  pending,
  title,
  confirmLabel,
  children,
}: {
  removal: { dialog: { open: boolean; onClose: () => void; onConfirm: () => void } };
  pending: boolean;
  title: string;
  confirmLabel: string;
  children: ReactNode;
}) {
  return <ConfirmDialog {...removal.dialog} pending={pending} title={title} confirmLabel={confirmLabel} description={children} />;
}
