import "server-only";

import { resolveProvider, type ResolvedProvider } from "../registry";
import type {
  CheckResult,
  ConnectionOutcome,
  ConnectionTestContext,
  ConnectionTestResult,
} from "./types";

/**
 * Shared helpers for connection tests that speak plain HTTP(S) with a bearer-style key.
 *
 * Rules every helper follows (and every caller must keep):
 * - a message never contains the secret, a header value or a raw response body; only short
 *   machine tokens a provider puts in its error body (`code`, `type`, `reason`, `status`) may be
 *   quoted, and only after `safeToken` accepted them;
 * - URLs in messages are reduced to their origin (a Gemini key may travel as `?key=`);
 * - response bodies are read with a size cap and may be non-JSON.
 */

/** The most of a response body we read; the rest is discarded unread. */
export const RESPONSE_BODY_CAP_BYTES = 64 * 1024;

/** A check's result before its name and duration are attached. */
export interface CheckBody {
  outcome: ConnectionOutcome;
  message?: string;
  retry_after_s?: number;
  /** Shown even when the check passed: advice, such as what to add for a fuller check. */
  note?: string;
}

/** A response that arrived (any status). `json` is the parsed body, or null when it was not JSON. */
export interface HttpReply {
  kind: "response";
  status: number;
  headers: Headers;
  json: unknown;
}

/** The request failed before a response arrived: timeout or network error, already classified. */
export interface HttpFailure {
  kind: "failure";
  check: CheckBody;
}

export type HttpOutcome = HttpReply | HttpFailure;

// ---------------------------------------------------------------------------------------------
// Timing

/** Runs fn and measures its wall time in whole milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; duration_ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, duration_ms: Math.max(0, Math.round(performance.now() - start)) };
}

/** Builds a CheckResult; the message is dropped when the outcome is ok. */
export function toCheck(name: string, body: CheckBody, duration_ms: number): CheckResult {
  const check: CheckResult = { name, outcome: body.outcome, duration_ms };
  if (body.outcome !== "ok" && body.message) check.message = body.message;
  else if (body.note) check.message = body.note;
  if (body.retry_after_s !== undefined) check.retry_after_s = body.retry_after_s;
  return check;
}

/**
 * Runs one named check and measures it. An unexpected exception becomes a provider_error check
 * with a generic message (the exception text is never shown: it could carry request details).
 */
export async function timedCheck(name: string, fn: () => Promise<CheckBody>): Promise<CheckResult> {
  const { value, duration_ms } = await timed(async (): Promise<CheckBody> => {
    try {
      return await fn();
    } catch {
      return {
        outcome: "provider_error",
        message: "The connection test failed unexpectedly. Try again; if it persists, report it to the operators.",
      };
    }
  });
  return toCheck(name, value, duration_ms);
}

/**
 * Why a check after a failed `authenticate` was not run: said plainly (a skipped check must never
 * read like a manual entry with nothing to test).
 */
export const NOT_RUN_AFTER_AUTH = "Not checked because the authenticate check did not pass.";

/** A check that was not run, e.g. because an earlier one failed. */
export function skippedCheck(name: string, message: string): CheckResult {
  return { name, outcome: "skipped", duration_ms: 0, message };
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** "10 s", "1.5 s", "200 ms". */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Math.round(ms)} ms`;
}

/** The origin of a URL (scheme, host, port): never its path, query, fragment or userinfo. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the configured address";
  }
}

async function readCapped(res: Response, cap: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = cap - total;
    if (value.byteLength >= room) {
      chunks.push(value.subarray(0, room));
      total = cap;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return Buffer.concat(chunks, total).toString("utf8");
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const NETWORK_REASONS: Array<[RegExp, string]> = [
  [/^ECONNREFUSED$/, "connection refused"],
  [/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/, "host not found (DNS lookup failed)"],
  [/^(ECONNRESET|EPIPE|UND_ERR_SOCKET|ECONNABORTED|UND_ERR_CLOSED)$/, "the connection was closed unexpectedly"],
  [/^(EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN)$/, "host unreachable"],
  [/^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT)$/, "the connection timed out"],
  [/^(CERT_|ERR_TLS_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_SSL_|EPROTO$)/, "the TLS handshake failed"],
];

/** Finds an error code (e.g. ECONNREFUSED) in an error, its cause chain or an AggregateError. */
function findErrorCode(err: unknown, depth = 0): string | null {
  if (depth > 5 || err === null || typeof err !== "object") return null;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && /^[A-Z0-9_]{2,64}$/.test(e.code)) return e.code;
  const fromCause = findErrorCode(e.cause, depth + 1);
  if (fromCause) return fromCause;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = findErrorCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return null;
}

function isAbort(err: unknown): boolean {
  if (err === null || typeof err !== "object") return false;
  const name = (err as { name?: unknown }).name;
  return name === "TimeoutError" || name === "AbortError";
}

/** Classifies an exception from fetch (or from reading the body) as timeout or network. */
export function classifyFetchError(ctx: ConnectionTestContext, url: string, err: unknown): CheckBody {
  if (isAbort(err) || isAbort((err as { cause?: unknown } | null)?.cause)) {
    return {
      outcome: "timeout",
      message:
        `${ctx.providerName} did not answer within ${formatDuration(ctx.timeoutMs)}. ` +
        "Try again; if it persists, check the provider's status page.",
    };
  }
  const code = findErrorCode(err);
  let reason = "network error";
  if (code) {
    const known = NETWORK_REASONS.find(([re]) => re.test(code));
    reason = known ? `${known[1]} (${code})` : `network error (${code})`;
  }
  return {
    outcome: "network",
    message:
      `Could not reach ${ctx.providerName} at ${originOf(url)}: ${reason}. ` +
      "Check that this server can reach the provider (firewall, proxy, DNS) and that the configured API base URL is right.",
  };
}

/**
 * fetch with the context's timeout (covering the body read too), no redirects followed (a redirect
 * could carry the key's header to another host) and a capped, JSON-tolerant body read.
 */
export async function fetchWithTimeout(
  ctx: ConnectionTestContext,
  url: string,
  init: RequestInit = {},
): Promise<HttpOutcome> {
  try {
    const res = await ctx.fetch(url, {
      ...init,
      signal: AbortSignal.timeout(ctx.timeoutMs),
      redirect: "manual",
      cache: "no-store",
    });
    const text = await readCapped(res, RESPONSE_BODY_CAP_BYTES);
    return { kind: "response", status: res.status, headers: res.headers, json: parseJson(text) };
  } catch (err) {
    return { kind: "failure", check: classifyFetchError(ctx, url, err) };
  }
}

// ---------------------------------------------------------------------------------------------
// Status classification

/**
 * Parses Retry-After (delta seconds or an HTTP date) into whole seconds, or undefined.
 * Also understands `retry-after-ms` (sent by some providers).
 */
export function parseRetryAfter(headers: Headers, nowMs: number): number | undefined {
  const raw = headers.get("retry-after")?.trim();
  if (raw) {
    if (/^\d+(\.\d+)?$/.test(raw)) return Math.ceil(Number(raw));
    const at = Date.parse(raw);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - nowMs) / 1000));
  }
  const ms = headers.get("retry-after-ms")?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms) / 1000);
  return undefined;
}

/** Parses a Google duration such as "7s" or "1.5s" into whole seconds. */
export function parseGoogleDuration(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return m ? Math.ceil(Number(m[1])) : undefined;
}

/**
 * A provider-supplied machine token (error code, type, reason, status), or null when it does not
 * look like one. Only tokens accepted here may be quoted in a message.
 */
export function safeToken(value: unknown): string | null {
  if (typeof value !== "string") return null;
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : null;
}

/** " (token)" or "" — for appending a provider's error code to a sentence. */
export function tokenSuffix(token: string | null | undefined): string {
  return token ? ` (${token})` : "";
}

/** A rate_limited check body, with the wait from Retry-After (or the given fallback) when known. */
export function rateLimited(
  ctx: ConnectionTestContext,
  headers: Headers,
  detail?: string | null,
  retryAfterFallback?: number,
): CheckBody {
  const retry = parseRetryAfter(headers, ctx.now()) ?? retryAfterFallback;
  const when = retry !== undefined ? `in ${retry} s` : "in a minute";
  const body: CheckBody = {
    outcome: "rate_limited",
    message:
      `${ctx.providerName} is rate-limiting requests (HTTP 429${detail ? `, ${detail}` : ""}). ` +
      `Try again ${when}; if it keeps happening, another system may be using up this key's quota.`,
  };
  if (retry !== undefined) body.retry_after_s = retry;
  return body;
}

/**
 * The statuses every provider treats alike: 429 → rate_limited (with Retry-After), 5xx (including
 * Anthropic's 529) → provider_error. Returns null for any other status. `detail` is an optional
 * safe token (e.g. "overloaded_error") to quote.
 */
export function classifyHttpStatus(
  ctx: ConnectionTestContext,
  reply: HttpReply,
  detail?: string | null,
  retryAfterFallback?: number,
): CheckBody | null {
  const { status } = reply;
  if (status === 429) return rateLimited(ctx, reply.headers, detail, retryAfterFallback);
  if (status >= 500 && status <= 599) {
    return {
      outcome: "provider_error",
      message: `${ctx.providerName} answered ${status}${tokenSuffix(detail)}; this is on their side, try again later.`,
    };
  }
  return null;
}

/** The fallback for a status no rule above or in the provider module explains. */
export function unexpectedStatus(
  ctx: ConnectionTestContext,
  reply: HttpReply,
  url: string,
  detail?: string | null,
): CheckBody {
  const { status } = reply;
  if (status >= 300 && status <= 399) {
    return {
      outcome: "provider_error",
      message:
        `${ctx.providerName} answered with a redirect (HTTP ${status}) at ${originOf(url)}, which a connection test does not follow. ` +
        "Check the configured API base URL.",
    };
  }
  if (status === 404) {
    return {
      outcome: "not_found",
      message:
        `${ctx.providerName} answered 404 Not Found${tokenSuffix(detail)} at ${originOf(url)}. ` +
        "Check the configured API base URL.",
    };
  }
  return {
    outcome: "provider_error",
    message: `${ctx.providerName} answered an unexpected HTTP ${status}${tokenSuffix(detail)}. Try again later; if it persists, report it to the operators.`,
  };
}

/** A 200 whose body is not what the API returns (e.g. a proxy's HTML page). */
export function unexpectedBody(ctx: ConnectionTestContext, url: string): CheckBody {
  return {
    outcome: "provider_error",
    message:
      `${ctx.providerName} answered at ${originOf(url)} but not with the expected JSON. ` +
      "Check the configured API base URL and any proxy between this server and the provider.",
  };
}

// ---------------------------------------------------------------------------------------------
// Small JSON accessors

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function getPath(value: unknown, ...path: string[]): unknown {
  let cur: unknown = value;
  for (const key of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function credentialString(ctx: ConnectionTestContext, field: string): string | null {
  const value = ctx.credential[field];
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

/** Joins an endpoint base (which may end with "/") and a path starting with "/". */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

// ---------------------------------------------------------------------------------------------
// Result

const SECRET_WINDOW = 16;

/**
 * True when text contains any 16-character run of a secret (or the whole of a shorter one).
 * 16 is longer than every documented public prefix ("sk-ant-admin01-" is 15), so a hint that names
 * a prefix never trips it.
 */
export function containsSecret(text: string, secrets: readonly string[]): boolean {
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    if (secret.length <= SECRET_WINDOW) {
      if (text.includes(secret)) return true;
      continue;
    }
    for (let i = 0; i + SECRET_WINDOW <= secret.length; i++) {
      if (text.includes(secret.slice(i, i + SECRET_WINDOW))) return true;
    }
  }
  return false;
}

const PASSES: ReadonlySet<ConnectionOutcome> = new Set<ConnectionOutcome>(["ok", "skipped"]);

/**
 * Builds the result: the overall outcome is the first check that neither passed nor was skipped;
 * else `skipped` when every check was skipped; else ok. duration_ms is the sum of the checks'
 * (they run one after another). Messages that would reveal a secret are replaced as a last guard.
 */
export function combineChecks(
  checks: CheckResult[],
  extra: {
    account?: ConnectionTestResult["account"];
    key_kind?: string | null;
    /** Secret values that must never appear in a message. */
    secrets?: readonly (string | null | undefined)[];
    warnings?: Record<string, string>;
  } = {},
): ConnectionTestResult {
  const secrets = (extra.secrets ?? []).filter((s): s is string => typeof s === "string" && s.length > 0);
  const safeChecks = checks.map((check) =>
    check.message !== undefined && containsSecret(check.message, secrets)
      ? { ...check, message: `The check ended with "${check.outcome}"; details were withheld because they would have revealed the credential.` }
      : check,
  );
  const failed = safeChecks.find((c) => !PASSES.has(c.outcome));
  let outcome: ConnectionOutcome = "ok";
  if (failed) outcome = failed.outcome;
  else if (safeChecks.length > 0 && safeChecks.every((c) => c.outcome === "skipped")) outcome = "skipped";

  const result: ConnectionTestResult = {
    outcome,
    duration_ms: safeChecks.reduce((sum, c) => sum + c.duration_ms, 0),
    checks: safeChecks,
    account: extra.account ?? null,
    key_kind: extra.key_kind ?? null,
  };
  if (failed?.retry_after_s !== undefined) result.retry_after_s = failed.retry_after_s;
  if (extra.warnings && Object.keys(extra.warnings).length > 0) result.warnings = { ...extra.warnings };
  return result;
}

/** A Google API error body: `error.status`, the `details[].reason`s and a RetryInfo delay (seconds). */
export interface GoogleApiError {
  status: string | null;
  reasons: string[];
  retryDelay: number | undefined;
}

/** Parse Google's error shape (Gemini, Resource Manager…); only safe tokens are kept, never free text. */
export function parseGoogleApiError(json: unknown): GoogleApiError {
  const err = getPath(json, "error");
  const details = getPath(err, "details");
  const reasons: string[] = [];
  let retryDelay: number | undefined;
  if (Array.isArray(details)) {
    for (const detail of details) {
      if (!isRecord(detail)) continue;
      const reason = safeToken(detail.reason);
      if (reason) reasons.push(reason);
      if (typeof detail["@type"] === "string" && detail["@type"].endsWith("google.rpc.RetryInfo")) {
        retryDelay = parseGoogleDuration(detail.retryDelay);
      }
    }
  }
  return { status: safeToken(getPath(err, "status")), reasons, retryDelay };
}

/** The provider's registry entry: the context's, else the same entry read from the registry. */
export function definitionOf(ctx: ConnectionTestContext): ResolvedProvider {
  const def = ctx.definition ?? resolveProvider(ctx.provider);
  if (!def) throw new Error(`no registry entry for provider ${ctx.provider}`);
  return def;
}

/** A pipeline's API-key access: the key, the headers the connection test sent (names lower-cased), the base URL it used. */
export function apiKeyAccess(ctx: ConnectionTestContext, apiKey: string, headers: Record<string, string>, base: string) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { kind: "api_key" as const, provider: ctx.provider, api_key: apiKey, headers: lower, base_url: base, expires_at: null };
}
