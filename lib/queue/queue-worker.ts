import "server-only";
import type { Logger } from "pino";
import { registerWorker, type WorkerName } from "./worker-registry";

const POLL_MS = 5_000;
const PRUNE_EVERY_MS = 3600_000;

/** A durable queue in the auth database with leased claims (webhook deliveries, notification mail). */
export interface LeasedQueue<R> {
  claimDue(now: string, leaseUntil: string, limit: number): Promise<R[]>;
  pruneFinished(before: string): Promise<number>;
}

export interface QueueWorkerOptions {
  /** How long a claim keeps other workers off a row: longer than one attempt can take. */
  leaseMs: number;
  /** Rows claimed, and attempted concurrently, per pass. */
  batch: number;
  /** Finished rows older than this are deleted (checked hourly). */
  keepFinishedMs: number;
}

/**
 * The loop every durable-queue worker shares: each pass prunes old finished rows (hourly), claims
 * due rows under a lease (so several instances share the queue and a crashed one's claims come
 * back when the lease ends) and attempts them concurrently. One pass at a time, woken when rows
 * are queued (`kick`) and every few seconds for retries; passes repeat while one finds a full
 * batch. A pass that throws is logged by name and the next one tries again.
 */
export abstract class QueueWorker<R> {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private lastPrune = 0;

  protected constructor(
    private readonly name: WorkerName,
    private readonly base: { queue: LeasedQueue<R>; log: Logger; now: () => number },
    private readonly opts: QueueWorkerOptions,
  ) {}

  /** Attempt one claimed row and record the outcome (releasing the lease). */
  protected abstract deliver(row: R): Promise<void>;

  /** Handle everything due now. Resolves when the pass ends. */
  runOnce(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (await this.pass()) this.again = true;
        } while (this.again);
      } catch (e) {
        this.base.log.error({ err_name: (e as Error)?.name, worker: this.name }, "delivery worker pass failed");
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  kick(): void {
    void this.runOnce();
  }

  start(): void {
    if (this.timer) return;
    registerWorker(this.name, this);
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    registerWorker(this.name, undefined);
  }

  /** One pass; true when it found a full batch (more may be due). */
  private async pass(): Promise<boolean> {
    const { queue, now: clock } = this.base;
    const now = clock();
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await queue.pruneFinished(new Date(now - this.opts.keepFinishedMs).toISOString());
    }
    const due = await queue.claimDue(new Date(now).toISOString(), new Date(now + this.opts.leaseMs).toISOString(), this.opts.batch);
    await Promise.all(due.map((row) => this.deliver(row)));
    return due.length >= this.opts.batch;
  }
}
