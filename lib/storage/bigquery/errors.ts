import "server-only";

/**
 * What a failed BigQuery call means for the store: retry (the statement did not run), ambiguous
 * (it may have committed: retry, then reconcile), streaming buffer, not found, or fatal. Summaries
 * carry the HTTP status, BigQuery reason or errno only, never the server's message (which may
 * quote values). https://cloud.google.com/bigquery/docs/error-messages
 */

export type ErrorKind =
  /** The statement did not run (lock conflict, DML quota/rate limit): safe to retry. */
  | "retry"
  /** The request may or may not have been applied (5xx, network, timeout): retry, then reconcile. */
  | "ambiguous"
  | "streamingBuffer"
  | "notFound"
  | "fatal";

export interface Classified {
  kind: ErrorKind;
  /** Safe summary (HTTP status, reason, errno): never the server's message. */
  summary: string;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

export function classify(err: unknown): Classified {
  const e = (err ?? {}) as {
    code?: unknown;
    errno?: unknown;
    type?: unknown;
    message?: unknown;
    errors?: unknown;
    name?: unknown;
  };
  const message = typeof e.message === "string" ? e.message : "";
  const reasons: string[] = [];
  const messages: string[] = [message];
  if (Array.isArray(e.errors)) {
    for (const x of e.errors as Array<{ reason?: unknown; message?: unknown }>) {
      if (typeof x?.reason === "string") reasons.push(x.reason);
      if (typeof x?.message === "string") messages.push(x.message);
    }
  }
  const text = messages.join("\n");
  const status = typeof e.code === "number" ? e.code : null;
  const errno = typeof e.code === "string" ? e.code : typeof e.errno === "string" ? e.errno : null;
  const summary =
    status !== null
      ? `HTTP ${status}${reasons.length ? ` ${[...new Set(reasons)].join(",")}` : ""}`
      : `network ${errno ?? (typeof e.type === "string" ? e.type : typeof e.name === "string" ? e.name : "error")}`;

  if (/would affect rows in the streaming buffer/i.test(text)) return { kind: "streamingBuffer", summary };
  if (/could not serialize access to table .* due to concurrent update/i.test(text)) return { kind: "retry", summary };
  if (reasons.includes("rateLimitExceeded") || reasons.includes("userRateLimitExceeded")) return { kind: "retry", summary };
  if (
    /too many DML statements/i.test(text) ||
    (/quota exceeded|exceeded quota/i.test(text) && /\bDML\b/i.test(text)) ||
    (reasons.includes("quotaExceeded") && /\bDML\b/i.test(text))
  ) {
    return { kind: "retry", summary };
  }
  if (status !== null) {
    if (status >= 500 || status === 408 || status === 429) return { kind: "ambiguous", summary };
    if (reasons.includes("backendError") || reasons.includes("internalError")) return { kind: "ambiguous", summary };
    if (status === 404) return { kind: "notFound", summary };
    return { kind: "fatal", summary };
  }
  // No HTTP status: a network failure (refused, reset, timeout) or a client-side failure.
  if (
    (errno !== null && NETWORK_CODES.has(errno)) ||
    e.type === "system" ||
    e.type === "request-timeout" ||
    e.name === "FetchError" ||
    e.name === "AbortError" ||
    /socket hang up|network timeout|ECONNRESET|ECONNREFUSED/i.test(message)
  ) {
    return { kind: "ambiguous", summary };
  }
  return { kind: "fatal", summary };
}

export function safeCause(op: string, c: Classified): Error {
  return new Error(`BigQuery ${op} failed: ${c.summary}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rejects with an ETIMEDOUT error when `promise` has not settled within `ms`. Needed because the
 * client's own `timeout` option is not enforced: teeny-request hands it to node-fetch 3, which
 * ignores it. The abandoned request is left to the HTTP agent (the client exposes no abort).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error("BigQuery request timed out") as Error & { code: string };
      err.code = "ETIMEDOUT";
      reject(err);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

