import type { z } from "zod";

/**
 * Zod issues as the `fields` of an error body ({ "credential.api_key": "why" }), for every schema
 * in the app (credentials, metadata, request bodies, account forms, webhooks). Client-safe. A name
 * the user chose is echoed only when it looks like a name: a pasted secret never comes back.
 */
/**
 * Whether a user-chosen name (an unknown field, a tag name) may be echoed in an error: only when
 * it looks like a name, never like a pasted secret (long, digit runs, long unbroken tokens, mixed
 * case and digits, or a known key prefix such as sk-, AKIA, AIza, ghp_, xox?-).
 */
export function isEchoableName(k: string, allowed: RegExp = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/): boolean {
  if (!allowed.test(k) || k.length > 40) return false;
  if (/\d{6}|[A-Za-z0-9_-]{33}|[A-Za-z0-9]{20}/.test(k)) return false;
  if (/^(sk|rk|pk)[-_]|^(AKIA|ASIA|AIza|ghp_|gho_|github_pat_|glpat-|xox[abpr]-)/i.test(k)) return false;
  return !k.split(/[-_.:/=+@]/).some((t) => t.length >= 12 && /[a-z]/.test(t) && /[A-Z]/.test(t) && /\d/.test(t));
}

/** A path segment for an error's `fields`: user-chosen keys that could be secrets are not echoed. */
function pathSegment(p: PropertyKey): string {
  if (typeof p === "number") return String(p);
  const k = String(p);
  return isEchoableName(k, /^[A-Za-z0-9_][A-Za-z0-9 _.:/=+@-]{0,63}$/) ? k : "(hidden name)";
}

/** Turn zod issues into { field: "why" } (first issue per field), for `fields` in error bodies. */
export function issuesToFields(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // Echo a field name only when it looks like one: someone who pasted a key as a JSON field
      // name must not get the key back in the error.
      for (const k of issue.keys) {
        const name = isEchoableName(k) ? k : "(unknown field)";
        out[[...issue.path.map(pathSegment), name].join(".")] ??= "is not a field of this provider";
      }
      continue;
    }
    // Record keys (tag names) are the user's, and may be a pasted secret: pathSegment hides those.
    const key = issue.path.map(pathSegment).join(".") || "(body)";
    if (issue.code === "invalid_key") {
      // A record key (a tag name) failed: its own message says why, the record's does not.
      out[key] ??= issue.issues[0]?.message ?? issue.message;
      continue;
    }
    // Zod leaves `input` out of finished issues, so a missing value is recognized by zod's default
    // message; schemas with their own message ("must be a string", "is required") keep it.
    out[key] ??= issue.code === "invalid_type" && /received undefined$/.test(issue.message) ? "is required" : issue.message;
  }
  return out;
}
