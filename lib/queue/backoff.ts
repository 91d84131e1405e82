/**
 * When to try a failed delivery again: exponential backoff from 30 seconds, doubling each time,
 * each wait capped at 6 hours and jittered by ±10% (so endpoints that fail together do not retry
 * in lockstep), for at most 24 hours after the event. The last try is at the 24-hour mark, so a
 * receiver that is down for a day still gets it when it comes back before then.
 *
 * The schedule follows what Standard Webhooks recommends ("Retry schedule": exponential backoff,
 * retries over about a day; https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 */
export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_WAIT_MS = 6 * 3600_000;
export const RETRY_WINDOW_MS = 24 * 3600_000;
const JITTER = 0.1;

/** The wait after the n-th failed attempt (n ≥ 1), before jitter. */
export function baseRetryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_WAIT_MS);
}

/**
 * The time of the next attempt after `attempts` failed ones, or null when the 24 hours since the
 * event (`createdAtMs`) are over: the delivery is then failed for good.
 */
export function nextAttemptAt(args: { attempts: number; createdAtMs: number; nowMs: number; random?: () => number }): number | null {
  const deadline = args.createdAtMs + RETRY_WINDOW_MS;
  if (args.nowMs >= deadline) return null;
  const r = args.random ?? Math.random;
  const wait = baseRetryDelayMs(args.attempts) * (1 + JITTER * (2 * r() - 1));
  return Math.min(args.nowMs + Math.round(wait), deadline);
}
