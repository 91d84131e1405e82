import type { ReactNode } from "react";
import { Label } from "./label";

/**
 * A labelled control with optional help and error text, wired with aria-describedby. `children`
 * receives the ids to put on the control.
 */
export function Field({
  id,
  label,
  help,
  error,
  warning,
  required,
  children,
  labelAction,
}: {
  id: string;
  label: ReactNode;
  help?: ReactNode;
  error?: string;
  warning?: string;
  required?: boolean;
  labelAction?: ReactNode;
  children: (a11y: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
}) {
  const helpId = help ? `${id}-help` : undefined;
  const errId = error ? `${id}-error` : undefined;
  const warnId = warning ? `${id}-warning` : undefined;
  const describedBy = [errId, warnId, helpId].filter(Boolean).join(" ") || undefined;
  return (
    <div className="space-y-1.5">
      <div className="flex items-center justify-between gap-2">
        <Label htmlFor={id}>
          {label}
          {required ? null : <span className="ml-1 font-normal text-slate-500">(optional)</span>}
        </Label>
        {labelAction}
      </div>
      {children({ id, "aria-describedby": describedBy, "aria-invalid": error ? true : undefined })}
      {error ? (
        <p id={errId} className="text-sm text-red-700">
          {error}
        </p>
      ) : null}
      {warning ? (
        <p id={warnId} className="text-sm text-amber-800">
          {warning}
        </p>
      ) : null}
      {help ? (
        <p id={helpId} className="text-xs text-slate-600">
          {help}
        </p>
      ) : null}
    </div>
  );
}
