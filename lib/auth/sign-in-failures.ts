import "server-only";

/** One key's failed sign-ins: how many since it was last forgotten, and when the last one was (ms). */
export interface FailureCount {
  failures: number;
  last: number;
}

/** How long a key's failures and a success are remembered. */
export interface SignInFailureWindows {
  /** A key with no failure for this long counts from zero again. */
  forgetMs: number;
  /** How long a successful sign-in makes its address + account key known. */
  knownMs: number;
}

/**
 * Where the sign-in failure counters live (the port): in this process (InProcessSignInFailures,
 * the embedded default, one instance) or in Postgres (PostgresSignInFailures with
 * AUTH_DATABASE_URL, so every instance counts in the same rows and N instances give an attacker no
 * more attempts than one). A store only counts; the policy (which keys, free failures, backoff) is
 * lib/auth/attempt-limits.ts, one copy for both. Keys come hashed and distinct.
 * Contract: lib/auth/attempt-limits-contract.ts.
 */
export interface SignInFailureStore {
  /** The counters of `keys` that are still live (absent: never failed, or forgotten), and whether `known` succeeded within knownMs. */
  read(keys: readonly string[], known: string, now: number): Promise<{ counts: Map<string, FailureCount>; known: boolean }>;
  /** One more failure on each of `keys`, atomically per key; a forgotten key starts again at one. */
  fail(keys: readonly string[], now: number): Promise<void>;
  /** A success: `key`'s failures are cleared and it is remembered as known. */
  succeed(key: string, now: number): Promise<void>;
}

/** The counters in this process's memory: a multi-instance deployment needs PostgresSignInFailures. */
export class InProcessSignInFailures implements SignInFailureStore {
  private readonly counts = new Map<string, FailureCount>();
  private readonly known = new Map<string, number>();

  constructor(private readonly windows: SignInFailureWindows) {}

  async read(keys: readonly string[], known: string, now: number): Promise<{ counts: Map<string, FailureCount>; known: boolean }> {
    const counts = new Map<string, FailureCount>();
    for (const key of keys) {
      const c = this.counts.get(key);
      if (c && now - c.last < this.windows.forgetMs) counts.set(key, { ...c });
    }
    const at = this.known.get(known);
    return { counts, known: at !== undefined && now - at < this.windows.knownMs };
  }

  async fail(keys: readonly string[], now: number): Promise<void> {
    for (const key of keys) {
      const c = this.counts.get(key);
      if (!c || now - c.last >= this.windows.forgetMs) this.counts.set(key, { failures: 1, last: now });
      else this.counts.set(key, { failures: c.failures + 1, last: Math.max(c.last, now) });
    }
    if (this.counts.size > 50_000) {
      for (const [k, c] of this.counts) if (now - c.last >= this.windows.forgetMs) this.counts.delete(k);
    }
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
}
