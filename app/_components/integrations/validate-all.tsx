"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { validateIntegrationAction } from "@/actions/integrations";
import { describeOutcome } from "@/lib/ui/format";
import { Button } from "../ui/button";

type Progress = { provider: string; name: string; state: "waiting" | "running" | "ok" | "failed"; message?: string };

/** "Validate all": re-tests every tested integration, two at a time, with per-provider progress; then refreshes the page. */
export function ValidateAll({ org, items }: { org: string; items: Array<{ provider: string; name: string }> }) {
  const router = useRouter();
  const [progress, setProgress] = useState<Progress[] | null>(null);
  const [running, setRunning] = useState(false);

  async function run() {
    const queue: Progress[] = items.map((i) => ({ ...i, state: "waiting" }));
    setProgress(queue);
    setRunning(true);
    const update = (provider: string, patch: Partial<Progress>) =>
      setProgress((p) => (p ? p.map((x) => (x.provider === provider ? { ...x, ...patch } : x)) : p));
    // Two at a time: quick for a handful of providers, gentle on each provider's rate limit.
    let next = 0;
    const worker = async () => {
      while (next < queue.length) {
        const item = queue[next++]!;
        update(item.provider, { state: "running" });
        try {
          const r = await validateIntegrationAction(org, item.provider);
          if (r.ok) {
            const ok = r.data.integration.status === "active";
            update(item.provider, { state: ok ? "ok" : "failed", message: ok ? "Active" : describeOutcome(r.data.connection_test.outcome) });
          } else update(item.provider, { state: "failed", message: r.error.message });
        } catch {
          update(item.provider, { state: "failed", message: "The server could not be reached." });
        }
      }
    };
    await Promise.all([worker(), worker()]);
    setRunning(false);
    router.refresh();
  }

  const done = progress?.filter((p) => p.state === "ok" || p.state === "failed").length ?? 0;
  return (
    <div className="w-full sm:w-auto">
      <Button variant="outline" onClick={run} disabled={running}>
        {running ? `Validating… ${done}/${progress?.length ?? 0}` : "Validate all"}
      </Button>
      <div aria-live="polite">
        {progress ? (
          <div className="mt-3 rounded-lg border border-slate-200 bg-white px-4 py-3 shadow-sm sm:min-w-80" data-testid="validate-all">
            <p className="text-sm font-semibold">{running ? `Validating ${progress.length} (${done} done)` : `Validated ${progress.length}`}</p>
            <ul className="mt-1 divide-y divide-slate-100 text-sm">
              {progress.map((p) => (
                <li key={p.provider} className="flex flex-wrap items-center justify-between gap-2 py-1" data-provider={p.provider} data-state={p.state}>
                  <span className="font-medium">{p.name}</span>
                  <span className={p.state === "failed" ? "text-red-700" : p.state === "ok" ? "text-emerald-800" : "text-slate-600"}>
                    {p.state === "waiting" ? "Waiting" : p.state === "running" ? "Testing…" : p.message}
                  </span>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </div>
  );
}
