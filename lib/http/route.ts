import "server-only";
import crypto from "node:crypto";
import type { Logger } from "pino";
import { AppError } from "../errors";
import type { Actor } from "../auth/actor";
import type { ApiKeyRole } from "../auth/auth-store";
import { getDeps } from "../deps";
import { requestContextOf } from "../audit/request-context";
import { MAX_INPUT_DEPTH, pathDeeperThan } from "../json-depth";
import { BODY_LIMIT_BYTES, readBodyUpTo, TOO_LARGE_MESSAGE } from "./body-guard";
import { infoLine, unexpectedErrorFields } from "../log";

export { BODY_LIMIT_BYTES };

type Params = Record<string, string>;

const DEFAULT_KEY_ROLES: readonly ApiKeyRole[] = ["admin", "viewer"];

export interface RouteContext {
  req: Request;
  params: Params;
  actor: Actor | null;
  requestId: string;
  log: Logger;
  /** The JSON body (64 KiB limit); parse errors become a fixed message, never the parser's. */
  json(): Promise<unknown>;
  /** Extra fields for this request's log line (org, provider, outcome, fingerprint). */
  logFields: Record<string, unknown>;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** `leftUnread` is called when the body was too large to read to its end (the answer must close the connection). */
async function readBody(req: Request, leftUnread: () => void): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  const tooLarge = () => new AppError("payload_too_large", TOO_LARGE_MESSAGE);
  if (declared > BODY_LIMIT_BYTES) throw tooLarge();
  if (!req.body) throw new AppError("invalid_request", "The body must be a JSON object.");
  const { bytes, tooLarge: over, unread } = await readBodyUpTo(req.body);
  if (unread) leftUnread();
  if (over) throw tooLarge();
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which may be a credential: use a fixed one.
    throw new AppError("invalid_request", "The body is not valid JSON.");
  }
  assertShallowOrThrow(body);
  return body;
}

/**
 * The same depth limit on every transport (lib/json-depth.ts; server actions: proxy.ts): a value
 * nested deeper than MAX_INPUT_DEPTH is refused before any recursive walk can overflow the stack.
 * The field named is the path's first two segments, shown only when they look like names.
 */
export function assertShallowOrThrow(body: unknown): void {
  const deep = pathDeeperThan(body, MAX_INPUT_DEPTH);
  if (!deep) return;
  const field = deep
    .slice(0, 2)
    .map((p) => (typeof p === "number" || /^[a-z][a-z0-9_]{0,63}$/.test(p) ? String(p) : "(hidden name)"))
    .join(".");
  throw new AppError("invalid_request", `The body nests values more than ${MAX_INPUT_DEPTH} levels deep (at ${field || "the top"}).`, {
    fields: { [field || "(body)"]: `is nested more than ${MAX_INPUT_DEPTH} levels deep` },
  });
}

function apiKeyFrom(req: Request): string | null {
  const x = req.headers.get("x-api-key");
  if (x) return x.trim();
  const auth = req.headers.get("authorization");
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1] ?? null;
}

/**
 * The one wrapper every route handler is: request id, API-key auth, body limit, AppError → status,
 * one log line per request. Unexpected errors get a generic message and are logged without their
 * message text (which could carry input).
 */
export function apiRoute(
  /** `keyRoles`: the API-key roles this route answers (default admin and viewer; a `pipeline` key may call …/access only). */
  opts: { auth: "api_key" | "none"; keyRoles?: readonly ApiKeyRole[] },
  handler: (ctx: RouteContext) => Promise<Response>,
) {
  return async (req: Request, segment: { params: Promise<Params> }): Promise<Response> => {
    const started = performance.now();
    const requestId = req.headers.get("x-request-id")?.match(/^[A-Za-z0-9-]{8,64}$/)?.[0] ?? crypto.randomUUID();
    const url = new URL(req.url);
    const deps = getDeps();
    // No per-request pino child (each one re-serializes bindings on the request path): our own
    // lines carry request_id as a field, and a handler that logs gets a child made on first use.
    let child: Logger | null = null;
    const params = (await segment.params) ?? {};
    const logFields: Record<string, unknown> = {};
    if (params.org) logFields.org = params.org;
    if (params.provider) logFields.provider = params.provider;
    let res: Response;
    let closeConnection = false;
    try {
      let actor: Actor | null = null;
      if (opts.auth === "api_key") {
        const raw = apiKeyFrom(req);
        if (!raw) throw new AppError("unauthenticated", "Send an org API key in the X-API-Key header (or Authorization: Bearer).");
        const v = await deps.auth.verifyApiKey(raw, new Date(deps.now()));
        if (!v) throw new AppError("unauthenticated", "The API key is not valid (unknown, malformed or revoked).");
        // The request id and client address ride on the actor into the core, for the audit trail.
        actor = { kind: "api_key", ...v, ...requestContextOf(req.headers, deps.env.TRUSTED_PROXIES, requestId) };
        logFields.key_id = v.keyId;
        if (!(opts.keyRoles ?? DEFAULT_KEY_ROLES).includes(v.role)) {
          throw new AppError(
            "forbidden",
            v.role === "pipeline" ? "A pipeline key may only call POST /integrations/{org}/{provider}/access." : `A ${v.role} key may not call this route.`,
          );
        }
      }
      res = await handler({
        req,
        params,
        actor,
        requestId,
        get log() {
          return (child ??= deps.log.child({ request_id: requestId }));
        },
        json: () => readBody(req, () => (closeConnection = true)),
        logFields,
      });
    } catch (e) {
      if (e instanceof AppError) {
        logFields.error = e.code;
        if (e.extra.fingerprint) logFields.fingerprint = e.extra.fingerprint;
        if (e.extra.connection_test) logFields.outcome = e.extra.connection_test.outcome;
        const headers: Record<string, string> = {};
        if (e.extra.retryAfterS !== undefined) headers["retry-after"] = String(e.extra.retryAfterS);
        // A body too large to read to its end (lib/http/body-guard.ts): the connection closes after
        // the answer, so the client does not send its next request into it.
        if (closeConnection) headers.connection = "close";
        res = json(e.status, e.toBody(requestId), headers);
      } else {
        const err = e as Error;
        deps.log.error({ request_id: requestId, ...unexpectedErrorFields(err) }, "unexpected error");
        res = json(500, new AppError("internal", "Something went wrong on our side; nothing was changed. Quote the request id if you report it.").toBody(requestId));
      }
    }
    res.headers.set("x-request-id", requestId);
    infoLine(
      deps.log,
      { request_id: requestId, method: req.method, path: url.pathname, status: res.status, duration_ms: Math.round(performance.now() - started), ...logFields },
      "request",
    );
    return res;
  };
}
