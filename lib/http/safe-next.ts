/**
 * Where to send someone after sign-in or sign-up (`?next=`): only a path on this site, never an
 * open redirect. A path starts with exactly one "/" and holds only URL path and query characters,
 * so none of the ways a browser turns a "relative" string into another origin gets through:
 * "//evil.example" and "/\evil.example" (protocol-relative; browsers treat "\" as "/"), and
 * "/\t/evil.example" (browsers drop tabs and newlines from URLs, WHATWG URL "strip … ASCII tab or
 * newline": https://url.spec.whatwg.org/#concept-basic-url-parser).
 */
const SAFE_PATH = /^\/(?![/\\])[A-Za-z0-9/_\-.~?=&%+]*$/;

export function safeNext(next: unknown): string;
export function safeNext<T>(next: unknown, fallback: T): string | T;
export function safeNext(next: unknown, ...fallback: unknown[]): unknown {
  if (typeof next === "string" && next.length <= 2048 && SAFE_PATH.test(next)) return next;
  return fallback.length ? fallback[0] : "/";
}
