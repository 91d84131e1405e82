import "server-only";
import crypto from "node:crypto";
import os from "node:os";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { storedRows } from "../storage/paging";
import { withStore } from "./common";
import type { CoreDeps } from "../deps";
import { resolveProvider } from "./registry";
import type { RoundLease } from "./scheduler-lease";
import { validateIntegration } from "./validate-integration";

/** The scheduler's actor: the audit trail records it as `{"type": "scheduler"}`. */
export const SCHEDULER_ACTOR: Actor = { kind: "system", name: "scheduler" };

export const REVALIDATION_JOB = "revalidate";

export interface RoundReport {
  round: number;
  /** Credentials tested (a verdict was recorded). */
  validated: number;
  /** Of those, how many changed status (active → invalid, …). */
  changed: number;
  /** No verdict (provider down, timed out, still throttled after waiting): nothing was changed. */
  errors: number;
}

/**
 * One round of scheduled re-validation: every active credential, one at a time, through the
 * validate use case (so a status changes only on a provider verdict, and the audit trail and the
 * notifications see it like any other validate). Paced by each provider's registry rate: calls
 * to one provider are spaced 60 s / requests_per_minute apart, and a throttled test is waited out.
 */
export async function runRevalidationRound(
  deps: CoreDeps,
  opts: {
    round: number;
    sleep?: (ms: number) => Promise<void>;
    rateLimitRetries?: number;
    stopped?: () => boolean;
    /** Called before each credential: the runner renews its lease there. */
    heartbeat?: () => Promise<void>;
  },
): Promise<RoundReport> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const targets: Array<{ org: string; provider: string; status: string }> = [];
  for await (const row of storedRows(deps.store, { read: withStore })) {
    if (row.status === "active") targets.push({ org: row.org, provider: row.provider, status: row.status });
  }
  const report: RoundReport = { round: opts.round, validated: 0, changed: 0, errors: 0 };
  const nextAt = new Map<string, number>();
  for (const t of targets) {
    if (opts.stopped?.()) break;
    await opts.heartbeat?.();
    const provider = resolveProvider(t.provider, deps.registry);
    if (!provider) continue;
    const spacing = Math.ceil(60_000 / Math.max(1, provider.rate_limits.requests_per_minute));
    const wait = (nextAt.get(provider.id) ?? 0) - deps.now();
    if (wait > 0) await sleep(wait);
    nextAt.set(provider.id, deps.now() + spacing);
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await validateIntegration({ actor: SCHEDULER_ACTOR, org: t.org, provider: t.provider }, deps);
        report.validated++;
        if (r.integration.status !== t.status) report.changed++;
      } catch (e) {
        if (e instanceof AppError && e.code === "rate_limited" && attempt < (opts.rateLimitRetries ?? 2)) {
          await sleep((e.extra.retryAfterS ?? 60) * 1000);
          continue;
        }
        // Deleted or replaced meanwhile, provider down: no verdict, nothing changed; the next round retries.
        report.errors++;
      }
      break;
    }
  }
  return report;
}

/**
 * Runs a round every `everyMs` on whichever instance claims it first (RoundLease). Rounds are
 * numbered floor(now / everyMs), so every instance agrees on them without talking to each other;
 * an instance that starts mid-period runs the current round only if nobody has. A round still
 * running at the next boundary makes that boundary's round be skipped (rounds never overlap).
 */
export class RevalidationScheduler {
  readonly holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString("hex")}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RoundReport | null> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: CoreDeps,
    private readonly lease: RoundLease,
    private readonly everyMs: number,
    private readonly opts: { sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  /** Claims the current round and runs it if won; null when another instance has it (or one is still running here). */
  async tick(): Promise<RoundReport | null> {
    if (this.running) return null;
    this.running = (async () => {
      const round = Math.floor(this.deps.now() / this.everyMs);
      let won = false;
      // Busy for two periods unless renewed: an instance that dies mid-round frees the job by then.
      const busyFor = 2 * this.everyMs;
      try {
        won = await this.lease.claim(REVALIDATION_JOB, round, this.holder, new Date(this.deps.now()), new Date(this.deps.now() + busyFor));
      } catch (e) {
        this.deps.log.error({ job: REVALIDATION_JOB, err_name: (e as Error)?.name ?? "Error" }, "scheduler could not reach the lease (auth database)");
        return null;
      }
      if (!won) return null;
      const started = this.deps.now();
      this.deps.log.info({ job: REVALIDATION_JOB, round, holder: this.holder }, "scheduled re-validation round started");
      let renewedAt = started;
      const heartbeat = async () => {
        if (this.deps.now() - renewedAt < this.everyMs / 2) return;
        renewedAt = this.deps.now();
        await this.lease.renew(REVALIDATION_JOB, this.holder, new Date(renewedAt + busyFor)).catch(() => {});
      };
      let report: RoundReport;
      try {
        report = await runRevalidationRound(this.deps, { round, sleep: this.opts.sleep, stopped: () => this.stopped, heartbeat });
      } finally {
        // Done: the next round may start on any instance (a long round made it skip the ones it overlapped).
        await this.lease.renew(REVALIDATION_JOB, this.holder, new Date(this.deps.now())).catch(() => {});
      }
      this.deps.log.info({ job: REVALIDATION_JOB, holder: this.holder, duration_ms: this.deps.now() - started, ...report }, "scheduled re-validation round finished");
      return report;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Ticks now, then at each round boundary (plus up to a second of jitter, so instances do not collide on the row). */
  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.tick().catch((e: unknown) => this.deps.log.error({ job: REVALIDATION_JOB, err_name: (e as Error)?.name ?? "Error" }, "scheduled re-validation round failed"));
      const now = this.deps.now();
      const next = (Math.floor(now / this.everyMs) + 1) * this.everyMs - now + Math.floor(Math.random() * 1000);
      this.timer = setTimeout(loop, next);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
