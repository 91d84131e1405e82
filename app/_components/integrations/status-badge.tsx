import { Badge, type BadgeTone } from "../ui/badge";

export type DisplayStatus = "active" | "invalid" | "expired" | "pending" | "not_connected";

const MAP: Record<DisplayStatus, { tone: BadgeTone; label: string; dot: string }> = {
  active: { tone: "success", label: "Active", dot: "bg-emerald-600" },
  invalid: { tone: "danger", label: "Invalid", dot: "bg-red-600" },
  expired: { tone: "warning", label: "Expired", dot: "bg-amber-600" },
  pending: { tone: "info", label: "Pending", dot: "bg-brand-600" },
  not_connected: { tone: "neutral", label: "Not connected", dot: "bg-slate-400" },
};

export function StatusBadge({ status }: { status: DisplayStatus }) {
  const m = MAP[status];
  return (
    <Badge tone={m.tone} data-status={status}>
      <span aria-hidden="true" className={`h-1.5 w-1.5 rounded-full ${m.dot}`} />
      {m.label}
    </Badge>
  );
}
