import "server-only";
import type net from "node:net";
import { WindowRateLimiter } from "../rate-limit";
import { addressBudgetKey, clientAddressOf, parseTrustedProxies } from "./client-address";

/**
 * Password-guessing and mail budgets. Better Auth's own limiter runs only on its HTTP router, which
 * is not mounted (every sign-in goes through a server action), so these are ours. In-process: a
 * multi-instance deployment divides them per instance.
 *
 * Sign-in counts failures only, with exponential backoff, on three keys:
 * - client address + account: 5 free failures, then 30 s, 1 min, 2 min … up to 15 min;
 * - client address (spraying many accounts from one place): 20 free failures, then the same backoff;
 * - account, from any address (a botnet on one account): 50 free failures, then backoff up to
 *   5 min, except from an address that signed in to this account successfully before: the
 *   owner's own address is never locked by failures made elsewhere.
 * A success clears the address + account counter and makes the address known for the account.
 * The client address is the socket's; X-Forwarded-For counts only from TRUSTED_PROXIES
 * (lib/auth/client-address.ts). IPv6 addresses count by their /64.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The wait after the first failure over the free ones; it doubles with each further failure. */
const FIRST_DELAY_MS = 30_000;

class FailureBackoff {
  private entries = new Map<string, { failures: number; last: number; blockedUntil: number }>();

  constructor(
    private readonly free: number,
    private readonly maxDelayMs: number,
    /** A key with no failure for this long starts over. */
    private readonly forgetMs: number,
  ) {}

  /** Seconds to wait before the next attempt, or 0. */
  wait(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e || now - e.last >= this.forgetMs) return 0;
    return e.blockedUntil > now ? Math.max(1, Math.ceil((e.blockedUntil - now) / 1000)) : 0;
  }

  fail(key: string, now: number): void {
    let e = this.entries.get(key);
    if (!e || now - e.last >= this.forgetMs) {
      e = { failures: 0, last: now, blockedUntil: 0 };
      this.entries.set(key, e);
    }
    e.failures++;
    e.last = now;
    const over = e.failures - this.free;
    if (over > 0) e.blockedUntil = now + Math.min(this.maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(over - 1, 20));
    if (this.entries.size > 50_000) this.prune(now);
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  private prune(now: number) {
    for (const [k, e] of this.entries) if (now - e.last >= this.forgetMs) this.entries.delete(k);
  }
}

class KnownAddresses {
  private seen = new Map<string, number>();
  constructor(private readonly ttlMs: number) {}
  has(key: string, now: number): boolean {
    const t = this.seen.get(key);
    return t !== undefined && now - t < this.ttlMs;
  }
  add(key: string, now: number): void {
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > 100_000) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

interface Limits {
  pair: FailureBackoff;
  address: FailureBackoff;
  account: FailureBackoff;
  known: KnownAddresses;
  signUp: WindowRateLimiter;
  mailPerAddress: WindowRateLimiter;
  mailPerRecipient: WindowRateLimiter;
}

const GLOBAL_KEY = Symbol.for("credential-manager.attempt-limits.v2");
type G = typeof globalThis & { [GLOBAL_KEY]?: Limits };

function limits(): Limits {
  const g = globalThis as G;
  g[GLOBAL_KEY] ??= {
    pair: new FailureBackoff(5, 15 * MINUTE, HOUR),
    address: new FailureBackoff(20, 15 * MINUTE, HOUR),
    account: new FailureBackoff(50, 5 * MINUTE, HOUR),
    known: new KnownAddresses(30 * 24 * HOUR),
    signUp: new WindowRateLimiter(50, HOUR), // new accounts per client address
    mailPerAddress: new WindowRateLimiter(20, HOUR), // reset / verification mails asked for from one address
    mailPerRecipient: new WindowRateLimiter(3, HOUR), // … and sent to one recipient
  };
  return g[GLOBAL_KEY];
}

/** Only for tests: forget every budget. */
export function resetAttemptLimitsForTests(): void {
  delete (globalThis as G)[GLOBAL_KEY];
}

const norm = (email: string) => email.trim().toLowerCase();

/** Seconds to wait before this sign-in may be tried, or 0. Does not count anything. */
export function signInWait(clientAddress: string, email: string, now = Date.now()): number {
  const l = limits();
  const a = addressBudgetKey(clientAddress);
  const e = norm(email);
  const pair = `${a}|${e}`;
  return Math.max(l.pair.wait(pair, now), l.address.wait(a, now), l.known.has(pair, now) ? 0 : l.account.wait(e, now));
}

/** Records the outcome of a sign-in that was tried. */
export function recordSignIn(clientAddress: string, email: string, ok: boolean, now = Date.now()): void {
  const l = limits();
  const a = addressBudgetKey(clientAddress);
  const e = norm(email);
  const pair = `${a}|${e}`;
  if (ok) {
    l.pair.clear(pair);
    l.known.add(pair, now);
    return;
  }
  l.pair.fail(pair, now);
  l.address.fail(a, now);
  l.account.fail(e, now);
}

/** Takes one sign-up from this client address: 0 when it may go ahead, else the seconds to wait. */
export function takeSignUpAttempt(clientAddress: string, now = Date.now()): number {
  return limits().signUp.take(addressBudgetKey(clientAddress), now);
}

/** Takes one "send me a mail" request (password reset, verification): per address and per recipient. */
export function takeMailRequest(clientAddress: string, recipient: string, now = Date.now()): number {
  const l = limits();
  return Math.max(l.mailPerAddress.take(addressBudgetKey(clientAddress), now), l.mailPerRecipient.take(norm(recipient), now));
}

let trusted: { spec: string | undefined; list: net.BlockList } | null = null;

/** The client address of a request (socket, or the proxy's X-Forwarded-For from TRUSTED_PROXIES). */
export function requestClientAddress(h: Headers, trustedProxies: string | undefined): string {
  if (!trusted || trusted.spec !== trustedProxies) trusted = { spec: trustedProxies, list: parseTrustedProxies(trustedProxies) };
  return clientAddressOf(h, trusted.list);
}
