/**
 * What every server action returns: a plain value (Error objects cannot cross to client
 * components). Expected failures carry the docs/api.md error code and a message written for a person.
 */
export type ActionError = {
  code: string;
  message: string;
  fields?: Record<string, string>;
  connection_test?: unknown;
};

export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: ActionError };

/** Unwraps a result for TanStack Query: a refusal becomes a thrown Error with the message. */
export function unwrap<T>(r: ActionResult<T>): T {
  if (r.ok) return r.data;
  const e = new Error(r.error.message) as Error & { code?: string };
  e.code = r.error.code;
  throw e;
}
