import { describeOutcome, describeTestOutcome } from "@/lib/ui/format";

export type PublicConnectionTest = {
  outcome: string;
  duration_ms: number;
  checks: Array<{ name: string; outcome: string; duration_ms: number; message?: string }>;
};

/** The connection test's checks, each with its outcome and, when not ok, what to do (or, when skipped, why). */
export function ConnectionTestView({ test }: { test: PublicConnectionTest }) {
  return (
    <div className="rounded-md border border-slate-200 bg-white" data-testid="connection-test">
      <p className="border-b border-slate-100 px-3 py-2 text-sm font-medium">
        Connection test: {describeTestOutcome(test.outcome)} <span className="font-normal text-slate-500">({test.duration_ms} ms)</span>
      </p>
      <ul className="divide-y divide-slate-100">
        {test.checks.map((c) => (
          <li key={c.name} className="px-3 py-2 text-sm" data-check={c.name} data-outcome={c.outcome}>
            <span className={c.outcome === "ok" ? "text-emerald-800" : c.outcome === "skipped" ? "text-slate-600" : "text-red-800"}>
              <span aria-hidden="true">{c.outcome === "ok" ? "✓ " : c.outcome === "skipped" ? "– " : "✕ "}</span>
              <span className="font-medium">{c.name.replace(/_/g, " ")}</span>: {describeOutcome(c.outcome)}
            </span>
            <span className="text-slate-500"> · {c.duration_ms} ms</span>
            {c.message ? <p className="mt-0.5 text-slate-800">{c.message}</p> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
