import type { HTMLAttributes, ReactNode } from "react";
import { cn } from "@/lib/ui/cn";

export type AlertTone = "info" | "success" | "warning" | "error";

const tones: Record<AlertTone, string> = {
  info: "border-brand-100 bg-brand-50 text-slate-900",
  success: "border-emerald-200 bg-emerald-50 text-emerald-950",
  warning: "border-amber-200 bg-amber-50 text-amber-950",
  error: "border-red-200 bg-red-50 text-red-950",
};

/** A message box. Not role="alert" (Next's route announcer already is one); live regions wrap it. */
export function Alert({
  tone = "info",
  title,
  className,
  children,
  ...props
}: Omit<HTMLAttributes<HTMLDivElement>, "title"> & { tone?: AlertTone; title?: ReactNode }) {
  return (
    <div className={cn("rounded-md border px-4 py-3 text-sm", tones[tone], className)} data-tone={tone} {...props}>
      {title ? <p className="font-semibold">{title}</p> : null}
      {children ? <div className={cn(title ? "mt-1" : undefined, "space-y-1")}>{children}</div> : null}
    </div>
  );
}

/** A form's polite live region: what the server answered, its refusal (error) or its notice. */
export function FormMessages({ state }: { state: { error?: string; notice?: string } | null | undefined }) {
  return (
    <div aria-live="polite">
      {state?.error ? <Alert tone="error">{state.error}</Alert> : null}
      {state?.notice ? <Alert tone="success">{state.notice}</Alert> : null}
    </div>
  );
}
