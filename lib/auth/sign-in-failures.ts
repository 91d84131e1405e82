import "server-only";

/**
 * One key's sign-in attempts: failures since it was last forgotten and when the last one was
 * (ms), and attempts in flight (reserved, their password not yet checked; 0 once they expire).
 */
export interface FailureCount {
  failures: number;
  last: number;
  pending: number;
}

/** How long a key's failures, in-flight attempts and a success are remembered. */
export interface SignInFailureWindows {
  /** A key with no failure for this long counts from zero again. */
  forgetMs: number;
  /** How long a successful sign-in makes its address + account key known. */
  knownMs: number;
  /** A key's in-flight attempts no longer count once none was reserved for this long (a request that crashed before finishing). */
  pendingMs: number;
}

/** Seconds to wait before an attempt may be tried given the live counters of its keys, or 0 to let it through. */
export type SignInWaitRule = (counts: Map<string, FailureCount>, known: boolean) => number;

/**
 * Where the sign-in failure counters live (the port): in this process (InProcessSignInFailures,
 * the embedded default, one instance) or in Postgres (PostgresSignInFailures with
 * AUTH_DATABASE_URL, so every instance counts in the same rows and N instances give an attacker no
 * more attempts than one). A store only counts; the policy (which keys, free failures, backoff) is
 * lib/auth/attempt-limits.ts, one copy for both, handed to `reserve` as a rule. Keys come hashed
 * and distinct. Contract: lib/auth/attempt-limits-contract.ts.
 *
 * An attempt is reserved before its password is checked and finished after (fail, or succeed and
 * release): the check and the count are one atomic step, so parallel attempts each see the ones
 * in flight before them, on any instance.
 */
export interface SignInFailureStore {
  /**
   * Atomically against every other reserve, fail, succeed and release of the same keys (on any
   * instance sharing the store): reads the live counters of `keys` (absent: nothing live) and
   * whether `known` succeeded within knownMs, asks `rule`, and when it answers 0 counts one
   * attempt in flight on each key. Returns the rule's answer; a refused attempt changes nothing.
   */
  reserve(keys: readonly string[], known: string, now: number, rule: SignInWaitRule): Promise<number>;
  /** One more failure on each of `keys` (a forgotten key starts again at one), and one in-flight attempt fewer; atomically per key. */
  fail(keys: readonly string[], now: number): Promise<void>;
  /** A success: `key`'s failures and in-flight attempts are cleared and it is remembered as known. */
  succeed(key: string, now: number): Promise<void>;
  /** One in-flight attempt fewer on each of `keys`, nothing counted (never below zero). */
  release(keys: readonly string[], now: number): Promise<void>;
}

interface Entry extends FailureCount {
  /** When the latest in-flight attempt was reserved (ms). */
  pendingAt: number;
}

/**
 * The counters in this process's memory: a multi-instance deployment needs PostgresSignInFailures.
 * Atomic because no method awaits between reading and writing (JavaScript runs one of them at a time).
 */
export class InProcessSignInFailures implements SignInFailureStore {
  private readonly counts = new Map<string, Entry>();
  private readonly known = new Map<string, number>();

  constructor(private readonly windows: SignInFailureWindows) {}

  /** `e`'s live part at `now`, or undefined when nothing of it counts any more. */
  private live(e: Entry | undefined, now: number): FailureCount | undefined {
    if (!e) return undefined;
    const failing = now - e.last < this.windows.forgetMs && e.failures > 0;
    const pending = now - e.pendingAt < this.windows.pendingMs ? e.pending : 0;
    if (!failing && pending === 0) return undefined;
    return { failures: failing ? e.failures : 0, last: failing ? e.last : 0, pending };
  }

  async reserve(keys: readonly string[], known: string, now: number, rule: SignInWaitRule): Promise<number> {
    const counts = new Map<string, FailureCount>();
    for (const key of keys) {
      const c = this.live(this.counts.get(key), now);
      if (c) counts.set(key, c);
    }
    const at = this.known.get(known);
    const wait = rule(counts, at !== undefined && now - at < this.windows.knownMs);
    if (wait > 0) return wait;
    for (const key of keys) {
      const c = counts.get(key);
      this.counts.set(key, { failures: c?.failures ?? 0, last: c?.last ?? 0, pending: (c?.pending ?? 0) + 1, pendingAt: Math.max(now, this.counts.get(key)?.pendingAt ?? 0) });
    }
    this.prune(now);
    return 0;
  }

  async fail(keys: readonly string[], now: number): Promise<void> {
    for (const key of keys) {
      const e = this.counts.get(key);
      const c = this.live(e, now);
      this.counts.set(key, {
        failures: (c?.failures ?? 0) + 1,
        last: Math.max(c?.last ?? 0, now),
        pending: Math.max(0, (c?.pending ?? 0) - 1),
        pendingAt: e?.pendingAt ?? 0,
      });
    }
    this.prune(now);
  }

  async succeed(key: string, now: number): Promise<void> {
    this.counts.delete(key);
    this.known.delete(key); // re-inserted last: the map's order is oldest first
    this.known.set(key, now);
    if (this.known.size > 100_000) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }

  async release(keys: readonly string[], now: number): Promise<void> {
    for (const key of keys) {
      const e = this.counts.get(key);
      if (e && e.pending > 0) e.pending -= 1;
      if (e && !this.live(e, now)) this.counts.delete(key);
    }
  }

  private prune(now: number): void {
    if (this.counts.size <= 50_000) return;
    for (const [k, e] of this.counts) if (!this.live(e, now)) this.counts.delete(k);
  }
}
