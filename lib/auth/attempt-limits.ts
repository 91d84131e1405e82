import "server-only";
import { WindowRateLimiter } from "../integrations/rate-limit";

/**
 * Password guessing budgets (Better Auth's own limiter runs only on its HTTP router, which is not
 * mounted: every sign-in goes through a server action). Per process; counted per attempt.
 */
const GLOBAL_KEY = Symbol.for("credential-manager.attempt-limits");
type Limits = { signIn: WindowRateLimiter; signUp: WindowRateLimiter };
type G = typeof globalThis & { [GLOBAL_KEY]?: Limits };

function limits(): Limits {
  const g = globalThis as G;
  g[GLOBAL_KEY] ??= {
    signIn: new WindowRateLimiter(10, 15 * 60_000), // per email: 10 tries per 15 minutes
    signUp: new WindowRateLimiter(50, 60 * 60_000), // per client address: 50 accounts per hour
  };
  return g[GLOBAL_KEY];
}

/** Seconds to wait, or 0 when this attempt may go ahead. */
export function takeSignInAttempt(email: string, now = Date.now()): number {
  return limits().signIn.take(email.toLowerCase(), now);
}

export function takeSignUpAttempt(clientAddress: string, now = Date.now()): number {
  return limits().signUp.take(clientAddress, now);
}

/** The client address as the proxy reports it (first X-Forwarded-For hop), else "local". */
export function clientAddressOf(h: Headers): string {
  return h.get("x-forwarded-for")?.split(",")[0]?.trim() || h.get("x-real-ip") || "local";
}
