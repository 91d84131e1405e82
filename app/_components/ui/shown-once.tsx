"use client";

import type { ReactNode } from "react";
import { Alert, type AlertTone } from "./alert";
import { Button } from "./button";
import { CopyButton } from "./copy-button";

/**
 * A value shown once (a new API key, a webhook signing secret, an invitation link): read-only,
 * selected on focus, with a copy button and, when `onDone` is given, a Done button that hides it.
 */
type ShownOnceValueProps = {
  id: string;
  label: string;
  value: string;
  copyLabel: string;
  testId: string;
  onDone?: () => void;
  className?: string;
};

export function ShownOnceValue({ id, label, value, copyLabel, testId, onDone, className = "mt-2" }: ShownOnceValueProps) {
  return (
    <div className={`${className} flex flex-wrap items-center gap-2`}>
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <input
        id={id}
        readOnly
        value={value}
        onFocus={(e) => e.currentTarget.select()}
        className="min-w-0 flex-1 rounded-md border border-emerald-300 bg-white px-3 py-2 font-mono text-xs text-slate-900"
        data-testid={testId}
      />
      <CopyButton value={value} label={copyLabel} variant="primary" />
      {onDone ? (
        <Button variant="ghost" size="sm" onClick={onDone}>
          Done
        </Button>
      ) : null}
    </div>
  );
}

/** The message that carries a value shown once: `children` say what it is, then the value itself. */
export function ShownOnceAlert({
  title,
  alertTestId,
  tone = "success",
  children,
  ...value
}: ShownOnceValueProps & { title: string; alertTestId: string; tone?: AlertTone; children: ReactNode }) {
  return (
    <Alert tone={tone} title={title} data-testid={alertTestId}>
      {children}
      <ShownOnceValue {...value} />
    </Alert>
  );
}
