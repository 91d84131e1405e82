import "server-only";

/**
 * Fixed-window limiter per key (org): setup and validate reach providers, so one org cannot
 * hammer them through us. In-process; a multi-instance deployment divides the budget per instance.
 */
export class WindowRateLimiter {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Takes one unit; returns 0 when allowed, else the seconds to wait. */
  take(key: string, now: number, limit: number = this.limit): number {
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      if (this.windows.size > 10_000) this.prune(now);
      return 0;
    }
    if (w.count < limit) {
      w.count++;
      return 0;
    }
    return Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  private prune(now: number) {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
