/**
 * The request-body checks proxy.ts applies to every page, server action and page route before
 * Next.js sees it (docs/security.md, "Input limits"; the JSON API's paths are checked by
 * lib/scripts/server.mjs and lib/http/route.ts instead: lib/http/api-paths.mjs):
 *
 * - one body limit for every transport: 64 KiB, the same as the REST routes' (lib/http/route.ts).
 *   Server actions otherwise take 1 MB (Next's default `serverActions.bodySizeLimit`) and answer an
 *   oversized body with 500;
 * - Next treats any POST to a page with `content-type: multipart/form-data` as a possible
 *   server-action form post and parses it; a body that is not multipart, or a server-action
 *   payload React cannot decode, ends in a 500 (and Next's log then quotes the parser's message,
 *   which can quote the body). Such bodies are refused here with 400.
 *
 * The server-action wire format is React's reply encoding (react-server-dom's
 * ReactFlightReplyServer, `parseModelString`): the arguments are one JSON row (the body as text, or
 * multipart field `0`), in which strings starting with `$` are references. Our actions take plain
 * JSON values and FormData (`$K<id>`, whose entries are the fields `_<id>_<name>`); a payload using
 * any other reference kind (promises `$@`, server references `$h`, Maps `$Q`, Sets `$W`, iterators,
 * streams, blobs, temporary references `$T`) cannot come from our own pages, so it is refused before
 * React tries to resolve it. Progressive-enhancement form posts (`$ACTION_REF_<n>` with the action
 * in `$ACTION_<n>:0` and its bound arguments in `$ACTION_<n>:<k>`) are checked the same way.
 *
 * Pure and dependency-free so it can run in the proxy and be unit tested.
 */

import { MAX_INPUT_DEPTH, pathDeeperThan } from "../json-depth";
import { BODY_LIMIT_BYTES, checkPath, DRAIN_LIMIT_BYTES, TOO_LARGE_MESSAGE } from "./api-paths.mjs";

export { BODY_LIMIT_BYTES, TOO_LARGE_MESSAGE };

/**
 * A request body, read until it ends or passes `limit` bytes: `bytes` holds what was read (never
 * more than the limit plus one chunk), `tooLarge` says it went past the limit. Past the limit the
 * rest is read and dropped up to DRAIN_LIMIT_BYTES in all, so the request ends cleanly and the
 * connection can carry the client's next request. A longer body is left unread (reading stops, the
 * stream is not cancelled) and the caller's 413 closes the connection (lib/http/route.ts).
 * Cancelling is what this did before: Next.js hands route handlers the socket's own stream, so a
 * cancel destroys the connection under the client, whose next request on it was then reset about
 * one time in six (an oversized chunked upload followed by a GET; tests/security/input-limits.test.ts).
 */
export async function readBodyUpTo(
  body: ReadableStream<Uint8Array> | null,
  limit = BODY_LIMIT_BYTES,
  drainLimit = DRAIN_LIMIT_BYTES,
): Promise<{ bytes: Uint8Array; tooLarge: boolean; unread: boolean }> {
  if (!body) return { bytes: new Uint8Array(0), tooLarge: false, unread: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let unread = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size - value.byteLength <= limit) chunks.push(value); // the chunk that crosses the limit is kept: callers see the size
    if (size > drainLimit) {
      reader.releaseLock();
      unread = true;
      break;
    }
  }
  const kept = chunks.reduce((n, c) => n + c.byteLength, 0);
  const bytes = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, tooLarge: size > limit, unread };
}

export interface Refusal {
  status: 400 | 403 | 413;
  code: "invalid_request" | "payload_too_large" | "forbidden";
  message: string;
}

const tooLarge = (): Refusal => ({ status: 413, code: "payload_too_large", message: TOO_LARGE_MESSAGE });
const bad = (message: string): Refusal => ({ status: 400, code: "invalid_request", message });

/** Allowed `$` strings in a reply row: escapes and plain values only (see the module comment). */
function allowedReference(s: string, formIds: Set<string> | null): boolean {
  if (s.length < 2) return false;
  switch (s[1]) {
    case "$":
      return true;
    case "u":
      return s === "$undefined";
    case "-":
      return s === "$-0" || s === "$-Infinity";
    case "I":
      return s === "$Infinity";
    case "N":
      return s === "$NaN";
    case "D":
      return !Number.isNaN(Date.parse(s.slice(2)));
    case "n":
      return /^-?\d{1,300}$/.test(s.slice(2));
    case "K":
      return formIds !== null && /^[0-9a-f]{1,8}$/.test(s.slice(2));
    default:
      return false;
  }
}

/** Why a reply row (JSON text) is refused, or null. `formIds`: FormData ids present (multipart only). */
export function checkReplyRow(text: string, formIds: Set<string> | null, mustBeArray: boolean): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "The server-action payload is not valid JSON.";
  }
  if (mustBeArray && !Array.isArray(value)) return "The server-action payload must be an argument list.";
  if (pathDeeperThan(value, MAX_INPUT_DEPTH)) return `The server-action payload nests values more than ${MAX_INPUT_DEPTH} levels deep.`;
  // Iterative: strings anywhere (values and keys) that start with "$" must be allowed references.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") {
      if (v.startsWith("$") && !allowedReference(v, formIds)) return "The server-action payload has a reference this app never sends.";
    } else if (Array.isArray(v)) {
      stack.push(...v);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k.startsWith("$") && !k.startsWith("$$")) return "The server-action payload has a reference this app never sends.";
        stack.push(x);
      }
    }
  }
  return null;
}

async function parseMultipart(body: Uint8Array, contentType: string): Promise<FormData | null> {
  if (!/;\s*boundary=("[^"]{1,70}"|[^\s;"]{1,70})/i.test(contentType)) return null;
  try {
    return await new Response(body as BodyInit, { headers: { "content-type": contentType } }).formData();
  } catch {
    return null;
  }
}

const text = (v: FormDataEntryValue | null): string | null => (typeof v === "string" ? v : null);

/** A fetch action's multipart reply: field `0` (last) is the root row; `_<id>_<name>` are FormData entries. */
function checkMultipartReply(form: FormData): string | null {
  const formIds = new Set<string>();
  let root: string | null = null;
  for (const [name, value] of form.entries()) {
    const entry = /^_([0-9a-f]{1,8})_/.exec(name);
    if (entry) {
      formIds.add(entry[1]!);
    } else if (name === "0") {
      root = text(value);
      if (root === null) return "The server-action payload's root row must be text.";
    } else {
      return "The server-action payload has a part this app never sends.";
    }
  }
  if (root === null) return "The server-action payload has no root row.";
  return checkReplyRow(root, formIds, true);
}

/** A progressive-enhancement (no JavaScript) form post: `$ACTION_ID_<id>` or `$ACTION_REF_<n>` + `$ACTION_<n>:<k>` rows. */
function checkFormPost(form: FormData): string | null {
  const names = [...form.keys()];
  const refs = names.filter((n) => n.startsWith("$ACTION_REF_")).map((n) => n.slice("$ACTION_REF_".length));
  for (const n of names) {
    if (!n.startsWith("$ACTION_")) continue;
    if (/^\$ACTION_ID_[0-9a-f]{2,64}$/.test(n) || n === "$ACTION_KEY" || /^\$ACTION_REF_\d{1,4}$/.test(n)) continue;
    const row = /^\$ACTION_(\d{1,4}):(\d{1,4})$/.exec(n);
    if (!row || !refs.includes(row[1]!)) return "The form post has an action field this app never sends.";
  }
  for (const ref of refs) {
    const meta = text(form.get(`$ACTION_${ref}:0`));
    if (meta === null) return "The form post names an action without describing it.";
    let parsed: unknown;
    try {
      parsed = JSON.parse(meta);
    } catch {
      return "The form post's action description is not valid JSON.";
    }
    const m = parsed as { id?: unknown; bound?: unknown } | null;
    if (!m || typeof m !== "object" || typeof m.id !== "string" || !/^[0-9a-f]{2,64}$/.test(m.id)) return "The form post's action description is not valid.";
    if (m.bound === null || m.bound === undefined) continue;
    const bound = typeof m.bound === "string" ? /^\$@([0-9a-f]{1,4})$/.exec(m.bound) : null;
    if (!bound) return "The form post's action description is not valid.";
    const boundRow = text(form.get(`$ACTION_${ref}:${parseInt(bound[1]!, 16)}`));
    if (boundRow === null) return "The form post's bound arguments are missing.";
    const why = checkReplyRow(boundRow, null, true);
    if (why) return why;
  }
  return null;
}

/**
 * Why this request body is refused, or null. `body` is what was read (at most a little over the
 * limit); `declaredLength` the Content-Length header, if any.
 */
export async function checkRequestBody(req: { headers: Headers; body: Uint8Array; declaredLength: number | null }): Promise<Refusal | null> {
  if ((req.declaredLength !== null && req.declaredLength > BODY_LIMIT_BYTES) || req.body.byteLength > BODY_LIMIT_BYTES) return tooLarge();
  const contentType = req.headers.get("content-type") ?? "";
  const isAction = req.headers.has("next-action");
  if (/^multipart\/form-data\b/i.test(contentType.trim())) {
    const form = await parseMultipart(req.body, contentType);
    if (!form) return bad("The body is not valid multipart/form-data.");
    const why = isAction ? checkMultipartReply(form) : checkFormPost(form);
    return why ? bad(why) : null;
  }
  if (isAction) {
    const decoded = new TextDecoder("utf-8", { fatal: false }).decode(req.body);
    const why = checkReplyRow(decoded, null, true);
    return why ? bad(why) : null;
  }
  return null;
}

// ------------------------------------------------------------------ the request line and headers

/**
 * Why the request line or headers are refused, or null: a path whose percent-encoding does not
 * decode (Next throws decoding the dynamic segment: 500) or decodes to control characters; and,
 * for a request that can run a server action (any
 * request with a body to a page), an `Origin` of another site. Next refuses those itself but
 * answers 500 (its CSRF check, action-handler.js); here they are 403.
 */
export function checkRequestHead(req: { method: string; pathname: string; headers: Headers; isApi: boolean }): Refusal | null {
  // The same path check lib/scripts/server.mjs applies to the API's paths (lib/http/api-paths.mjs).
  const badPath = checkPath(req.pathname);
  if (badPath) return bad(badPath);
  // The router-state header never reaches proxy.ts (Next strips it): lib/scripts/server.mjs checks
  // it with lib/http/router-state.mjs.
  const origin = req.headers.get("origin");
  if (origin !== null && !req.isApi && !["GET", "HEAD", "OPTIONS"].includes(req.method)) {
    let originHost: string | null = null;
    try {
      originHost = origin === "null" ? null : new URL(origin).host;
    } catch {
      originHost = null;
    }
    const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host");
    if (originHost === null || originHost !== host) return { status: 403, code: "forbidden", message: "Cross-site requests to this page are refused." };
  }
  return null;
}
