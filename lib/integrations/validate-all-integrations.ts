import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { storedRows } from "../storage/paging";
import { getDeps, type CoreDeps } from "../deps";
import { withStore } from "./common";
import { validateIntegration } from "./validate-integration";

export interface ValidateAllResult {
  org: string;
  provider: string;
  /** The recorded status; absent when the provider gave no verdict (nothing was changed). */
  status?: string;
  outcome?: string;
  /** The error code when there was no verdict (rate_limited, provider_unreachable, …). */
  error?: string;
}

export interface ValidateAllReport {
  results: ValidateAllResult[];
  invalid_or_expired: number;
}

/**
 * Re-test every stored credential (or one org's) and record each verdict, one at a time
 * (`integrations validate-all`). A throttled provider is waited for, as long as it (or the
 * registry's rate budget) asks, up to `rateLimitRetries` times; other failures are reported per
 * credential and the run goes on. An operator task: the system actor only.
 */
export async function validateAllIntegrations(
  args: {
    actor: Actor;
    org?: string;
    onProgress?: (done: number, total: number, label: string) => void;
    rateLimitRetries?: number;
    sleep?: (ms: number) => Promise<void>;
  },
  deps: CoreDeps = getDeps(),
): Promise<ValidateAllReport> {
  if (args.actor.kind !== "system") throw new AppError("forbidden", "Validating every stored credential is an operator task (CLI only).");
  const sleep = args.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retries = args.rateLimitRetries ?? 3;
  const targets: Array<{ org: string; provider: string }> = [];
  for await (const row of storedRows(deps.store, { read: withStore })) {
    if (!args.org || row.org === args.org) targets.push({ org: row.org, provider: row.provider });
  }
  const report: ValidateAllReport = { results: [], invalid_or_expired: 0 };
  for (const [i, t] of targets.entries()) {
    args.onProgress?.(i, targets.length, `${t.org}/${t.provider}`);
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await validateIntegration({ actor: args.actor, ...t }, deps);
        report.results.push({ ...t, status: r.integration.status, outcome: r.connection_test.outcome });
        if (r.integration.status === "invalid" || r.integration.status === "expired") report.invalid_or_expired++;
      } catch (e) {
        if (e instanceof AppError && e.code === "rate_limited" && attempt < retries) {
          const wait = e.extra.retryAfterS ?? 60;
          args.onProgress?.(i, targets.length, `${t.org}/${t.provider}: rate limited, waiting ${wait} s`);
          await sleep(wait * 1000);
          continue;
        }
        report.results.push({ ...t, error: e instanceof AppError ? e.code : "internal" });
      }
      break;
    }
  }
  args.onProgress?.(targets.length, targets.length, "done");
  return report;
}
