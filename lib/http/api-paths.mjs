// The JSON API's paths (the route handlers under app/integrations, app/providers, app/healthz,
// app/readyz, app/openapi.json) and the controls every request to them gets before Next.js sees it.
// The production server (lib/scripts/server.mjs) applies them; proxy.ts, which runs on every
// other path, uses the same definitions (docs/decisions/014-api-routes-outside-the-proxy.md).
// Plain JavaScript: the server is not compiled.

/** A path is the API's when it equals one of these or lies under it (`/integrations/` only under). */
export const API_PREFIXES = ["/integrations/", "/providers", "/healthz", "/readyz", "/openapi.json"];

export function isApiPath(pathname) {
  for (const p of API_PREFIXES) {
    if (p.endsWith("/") ? pathname.startsWith(p) : pathname === p || pathname.startsWith(`${p}/`)) return true;
  }
  return false;
}

/** JSON routes render nothing: nothing may load or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Sent when the request came over https (browsers ignore it over plain http: RFC 6797 §8.1). */
export const HSTS = "max-age=63072000; includeSubDomains";

/**
 * Whether the answer goes out over https: the request came over TLS, or a TLS-terminating proxy
 * says so (`X-Forwarded-Proto: https`), or the public origin (BETTER_AUTH_URL) is https.
 */
export function servedOverHttps(encrypted, forwardedProto, publicOrigin) {
  return encrypted || forwardedProto === "https" || (publicOrigin ?? "").startsWith("https://");
}

/** The one body limit of every transport (lib/http/body-guard.ts re-exports it). */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * How much of a body over the limit is still read and dropped so the answer reaches a client that
 * is still sending, and the keep-alive connection stays usable: closing a socket with unread data
 * makes the kernel send RST (RFC 1122 §4.2.2.13), which the client may read before the answer.
 * Past this, the connection is closed.
 */
export const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** The one message for a body over the limit (REST routes, the proxy and the server alike). */
export const TOO_LARGE_MESSAGE = `The body is larger than ${BODY_LIMIT_BYTES / 1024} KiB.`;

/**
 * Why the path is refused (400), or null: percent-encoding that does not decode (Next throws
 * decoding a dynamic segment: a 500), or that decodes to control characters.
 */
export function checkPath(pathname) {
  for (const segment of pathname.split("/")) {
    let decoded;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return "The path is not valid (malformed percent-encoding).";
    }
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return "The path is not valid (control characters).";
  }
  return null;
}
