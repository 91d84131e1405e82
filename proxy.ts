import { NextResponse, type NextRequest } from "next/server";
import { getEnv } from "./lib/env";
import { API_CSP, HSTS, isApiPath, servedOverHttps } from "./lib/http/api-paths.mjs";
import { BODY_LIMIT_BYTES, checkRequestBody, checkRequestHead, readBodyUpTo } from "./lib/http/body-guard";

/**
 * Next.js Proxy (https://nextjs.org/docs/app/api-reference/file-conventions/proxy): runs before
 * every page, server action and page route (docs/security.md). The JSON API's paths
 * (lib/http/api-paths.mjs) are left out by the matcher below: the production server
 * (lib/scripts/server.mjs) gives them the same head check and headers, and their route wrapper
 * (lib/http/route.ts) the body limit (docs/decisions/014-api-routes-outside-the-proxy.md).
 *
 * 1. Request bodies: the same 64 KiB limit on every transport, and multipart bodies or
 *    server-action payloads that React could not decode are refused with 400 before Next's action
 *    handler turns them into a 500 (lib/http/body-guard.ts).
 * 2. Secure headers: a strict Content-Security-Policy with a fresh nonce per request (Next reads
 *    the nonce from the request's CSP header and puts it on its own scripts:
 *    https://nextjs.org/docs/app/guides/content-security-policy), and HSTS when the app is
 *    served over https (browsers ignore HSTS received over http: RFC 6797 §8.1).
 */

/** Whether the request may carry a body: any method but GET and HEAD, or those when they declare one. */
function hasBody(req: NextRequest): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return true;
  const length = req.headers.get("content-length");
  return (length !== null && length.trim() !== "0") || req.headers.has("transfer-encoding");
}

function pageCsp(nonce: string, https: boolean): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(https ? ["upgrade-insecure-requests"] : []),
  ].join("; ");
}


/** A refusal in the API's error shape (docs/api.md), with a request id like every other answer. */
function refuse(status: number, code: string, message: string, headers: Record<string, string>): NextResponse {
  const requestId = crypto.randomUUID();
  return NextResponse.json({ error: { code, message, request_id: requestId } }, { status, headers: { "cache-control": "no-store", "x-request-id": requestId, ...headers } });
}

export async function proxy(req: NextRequest): Promise<NextResponse> {
  const https = servedOverHttps(req.nextUrl.protocol === "https:", req.headers.get("x-forwarded-proto"), getEnv().BETTER_AUTH_URL);
  const security: Record<string, string> = https ? { "strict-transport-security": HSTS } : {};
  const api = isApiPath(req.nextUrl.pathname);
  const head = checkRequestHead({ method: req.method, pathname: req.nextUrl.pathname, headers: req.headers, isApi: api });
  if (head) return refuse(head.status, head.code, head.message, { ...security, "content-security-policy": API_CSP });

  if (hasBody(req)) {
    const declared = req.headers.get("content-length");
    const declaredLength = declared !== null && /^\d+$/.test(declared) ? Number(declared) : null;
    const body = declaredLength !== null && declaredLength > BODY_LIMIT_BYTES ? new Uint8Array(0) : (await readBodyUpTo(req.body)).bytes;
    const refusal = await checkRequestBody({ headers: req.headers, body, declaredLength });
    if (refusal) return refuse(refusal.status, refusal.code, refusal.message, { ...security, "content-security-policy": API_CSP });
  }

  // Only when the matcher lets an API path through (it should not): the same headers as server.mjs gives it.
  if (api) {
    const res = NextResponse.next();
    res.headers.set("content-security-policy", API_CSP);
    for (const [k, v] of Object.entries(security)) res.headers.set(k, v);
    return res;
  }

  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const csp = pageCsp(nonce, https);
  const requestHeaders = new Headers(req.headers);
  requestHeaders.set("content-security-policy", csp);
  requestHeaders.set("x-nonce", nonce);
  const res = NextResponse.next({ request: { headers: requestHeaders } });
  res.headers.set("content-security-policy", csp);
  for (const [k, v] of Object.entries(security)) res.headers.set(k, v);
  return res;
}

export const config = {
  // Everything but Next's hashed static assets (served as files, no body, no HTML) and the JSON
  // API's paths (isApiPath in lib/http/api-paths.mjs: /integrations/…, /providers, /healthz,
  // /readyz, /openapi.json, each with what lies under it). Next compiles this case-sensitively, as
  // isApiPath compares; a test in lib/http/api-paths.test.ts holds the two to the same paths.
  matcher: ["/((?!_next/static|_next/image|favicon.ico|icon.svg|integrations/|providers(?:/|$)|healthz(?:/|$)|readyz(?:/|$)|openapi\\.json(?:/|$)).*)"],
};
