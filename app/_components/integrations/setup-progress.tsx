import { STEP_LABELS } from "@/lib/ui/format";
import { cn } from "@/lib/ui/cn";

export type StepState = "waiting" | "running" | "done" | "failed" | "skipped";
const ORDER = ["format", "connection_test", "encryption", "stored"] as const;

/** Which step an error code stopped at (docs/api.md codes), for the progress list. */
export function stepsFor(errorCode: string | null): Record<string, StepState> {
  const failedAt: (typeof ORDER)[number] | null =
    errorCode === null
      ? null
      : ["invalid_format", "invalid_request", "invalid_metadata", "unknown_provider"].includes(errorCode)
        ? "format"
        : errorCode === "encryption_unavailable"
          ? "encryption"
          : ["storage_unavailable", "conflict"].includes(errorCode)
            ? "stored"
            : "connection_test";
  const out: Record<string, StepState> = {};
  let after = false;
  for (const s of ORDER) {
    if (failedAt === s) {
      out[s] = "failed";
      after = true;
    } else out[s] = after ? "skipped" : "done";
  }
  return out;
}

const TEXT: Record<StepState, string> = { waiting: "waiting", running: "running…", done: "done", failed: "failed", skipped: "not run" };

/**
 * The four setup steps. The format check runs in the browser first; the server runs the other
 * three in one request, so they are marked together when it answers (said so under the list).
 */
export function SetupProgress({ steps }: { steps: Record<string, StepState> }) {
  const busy = Object.values(steps).includes("running");
  return (
    <div>
      <ol className="grid gap-2 sm:grid-cols-2 xl:grid-cols-4" aria-label="Setup steps" data-testid="setup-steps">
        {ORDER.map((s, i) => {
          const st = steps[s] ?? "waiting";
          return (
            <li
              key={s}
              data-step={s}
              data-state={st}
              className={cn(
                "flex items-center gap-2 rounded-md border px-3 py-2 text-sm",
                st === "done" && "border-emerald-200 bg-emerald-50 text-emerald-900",
                st === "failed" && "border-red-200 bg-red-50 text-red-900",
                st === "running" && "border-brand-100 bg-brand-50 text-brand-800",
                (st === "waiting" || st === "skipped") && "border-slate-200 bg-white text-slate-600",
              )}
            >
              <span aria-hidden="true" className="font-mono text-xs">
                {st === "done" ? "✓" : st === "failed" ? "✕" : st === "running" ? "…" : i + 1}
              </span>
              <span>
                <span className="font-medium">{STEP_LABELS[s]}</span> <span className="text-xs">({TEXT[st]})</span>
              </span>
            </li>
          );
        })}
      </ol>
      {busy ? (
        <p className="mt-2 text-xs text-slate-600">
          The format check passed here in your browser. The server now tests the credential with the provider, encrypts it and stores
          it, in one request; these steps are marked when it answers.
        </p>
      ) : null}
    </div>
  );
}
