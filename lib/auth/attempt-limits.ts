import "server-only";
import crypto from "node:crypto";
import type { RateLimiter } from "../rate-limit";
import { addressBudgetKey } from "./client-address";
import type { FailureCount, SignInFailureStore, SignInFailureWindows } from "./sign-in-failures";

/** What became of a reserved sign-in attempt: a wrong password, a right one, or no answer (the check itself broke). */
export type SignInOutcome = "failed" | "succeeded" | "unchecked";

/**
 * Password-guessing and mail budgets. Better Auth's own limiter runs only on its HTTP router, which
 * is not mounted (every sign-in goes through a server action), so these are ours. Counted where the
 * other budgets are (lib/deps wires them): in this process on the embedded default, in Postgres
 * with AUTH_DATABASE_URL, so N instances give an attacker no more attempts than one.
 *
 * Sign-in counts failures only, with exponential backoff, on three keys:
 * - client address + account: 5 free failures, then 30 s, 1 min, 2 min … up to 15 min;
 * - client address (spraying many accounts from one place): 20 free failures, then the same backoff;
 * - account, from any address (a botnet on one account): 50 free failures, then backoff up to
 *   5 min, except from an address that signed in to this account successfully before: the
 *   owner's own address is never locked by failures made elsewhere.
 * A success clears the address + account counter and makes the address known for the account.
 *
 * Concurrency: the budget is taken before the password is checked, not read. reserveSignIn is one
 * atomic store operation that reads the three counters with the attempts in flight on them,
 * applies this rule and, if the attempt may go ahead, counts it in flight; finishSignIn turns it
 * into a failure or releases it. An attempt in flight counts as a failure made now, so a burst of
 * parallel guesses, on one instance or spread over several, gets exactly the tries that the same
 * guesses one after another would (6 on a fresh address + account: the 5 free and the one that
 * starts the 30 s), and the rest are refused unchecked. An attempt whose request died before
 * finishing stops counting 30 s after the key's latest reservation (SIGN_IN_WINDOWS.pendingMs).
 * The owner's own address is unaffected: its address + account key is its own, and the account
 * key does not apply to it.
 * The client address is the socket's; X-Forwarded-For counts only from TRUSTED_PROXIES
 * (lib/auth/client-address.ts). IPv6 addresses count by their /64. Keys are hashed before they
 * reach a store, so no table holds the addresses and emails in clear.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The wait after the first failure over the free ones; it doubles with each further failure. */
const FIRST_DELAY_MS = 30_000;

/** How long failures and successes are remembered, for both stores. */
export const SIGN_IN_WINDOWS: SignInFailureWindows = { forgetMs: HOUR, knownMs: 30 * 24 * HOUR, pendingMs: 30_000 };

const PAIR = { free: 5, maxDelayMs: 15 * MINUTE };
const ADDRESS = { free: 20, maxDelayMs: 15 * MINUTE };
const ACCOUNT = { free: 50, maxDelayMs: 5 * MINUTE };

/**
 * Seconds to wait after `count` on a key of `budget`, or 0: the last failure plus the backoff. The
 * attempts in flight count as failures made now (they may all be wrong).
 */
function waitOf(count: FailureCount | undefined, budget: { free: number; maxDelayMs: number }, now: number): number {
  if (!count) return 0;
  const over = count.failures + count.pending - budget.free;
  if (over <= 0) return 0;
  const last = count.pending > 0 ? Math.max(count.last, now) : count.last;
  const blockedUntil = last + Math.min(budget.maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(over - 1, 20));
  return blockedUntil > now ? Math.max(1, Math.ceil((blockedUntil - now) / 1000)) : 0;
}

const norm = (email: string) => email.trim().toLowerCase();
const hashed = (kind: string, value: string) => `${kind}:${crypto.createHash("sha256").update(value).digest("base64url").slice(0, 32)}`;

function signInKeys(clientAddress: string, email: string) {
  const a = addressBudgetKey(clientAddress);
  const e = norm(email);
  return { pair: hashed("pair", `${a}|${e}`), address: hashed("addr", a), account: hashed("acct", e) };
}

/** The budgets a sign-up or mail request takes from (RateLimiter, one window each). */
export type AttemptLimiterScope = "sign-up" | "mail-address" | "mail-recipient";

/** The accounts side's budgets over one SignInFailureStore and three limiters. */
export class AttemptLimits {
  private readonly signUp: RateLimiter;
  private readonly mailPerAddress: RateLimiter;
  private readonly mailPerRecipient: RateLimiter;

  constructor(
    private readonly failures: SignInFailureStore,
    limiter: (scope: AttemptLimiterScope, limit: number, windowMs: number) => RateLimiter,
  ) {
    this.signUp = limiter("sign-up", 50, HOUR); // new accounts per client address
    this.mailPerAddress = limiter("mail-address", 20, HOUR); // reset / verification mails asked for from one address
    this.mailPerRecipient = limiter("mail-recipient", 3, HOUR); // … and sent to one recipient
  }

  /**
   * Takes a sign-in attempt before its password is checked: 0 when it may be tried (then counted in
   * flight until finishSignIn, at most SIGN_IN_WINDOWS.pendingMs), else the seconds to wait, and
   * nothing is counted. Atomic across instances (the store's reserve).
   */
  async reserveSignIn(clientAddress: string, email: string, now: number): Promise<number> {
    const k = signInKeys(clientAddress, email);
    return this.failures.reserve([k.pair, k.address, k.account], k.pair, now, (counts, known) =>
      Math.max(waitOf(counts.get(k.pair), PAIR, now), waitOf(counts.get(k.address), ADDRESS, now), known ? 0 : waitOf(counts.get(k.account), ACCOUNT, now)),
    );
  }

  /**
   * Ends a reserved attempt: "failed" counts a failure on the three keys (the backoff grows);
   * "succeeded" clears the address + account counter and makes the address known for the account,
   * counting nothing; "unchecked" only releases the reservation. A failure recorded without a
   * reservation counts the same.
   */
  async finishSignIn(clientAddress: string, email: string, outcome: SignInOutcome, now: number): Promise<void> {
    const k = signInKeys(clientAddress, email);
    if (outcome === "failed") return this.failures.fail([k.pair, k.address, k.account], now);
    if (outcome === "succeeded") {
      await this.failures.succeed(k.pair, now);
      return this.failures.release([k.address, k.account], now);
    }
    return this.failures.release([k.pair, k.address, k.account], now);
  }

  /** Takes one sign-up from this client address: 0 when it may go ahead, else the seconds to wait. */
  async takeSignUpAttempt(clientAddress: string, now: number): Promise<number> {
    return this.signUp.take(hashed("addr", addressBudgetKey(clientAddress)), now);
  }

  /** Takes one "send me a mail" request (password reset, verification): per address and per recipient. */
  async takeMailRequest(clientAddress: string, recipient: string, now: number): Promise<number> {
    const [byAddress, byRecipient] = await Promise.all([
      this.mailPerAddress.take(hashed("addr", addressBudgetKey(clientAddress)), now),
      this.mailPerRecipient.take(hashed("acct", norm(recipient)), now),
    ]);
    return Math.max(byAddress, byRecipient);
  }
}
