import "server-only";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { getSessionActor } from "@/lib/auth/session";
import type { Actor } from "@/lib/auth/actor";
import { AppError } from "@/lib/errors";
import { getDeps } from "@/lib/deps";
import { issuesToFields } from "@/lib/integrations/schemas";
import { unexpectedErrorFields } from "@/lib/log";
import type { ActionResult } from "@/lib/ui/action-result";

/**
 * The body of every server action after the session is read: call the core (which authorizes),
 * revalidate, and turn failures into plain values. Unexpected errors are logged by class name and
 * stack frames only (a message could quote input) and reach the user as a generic message.
 */
export async function run<T>(fn: () => Promise<T>, revalidate?: string): Promise<ActionResult<T>> {
  try {
    const data = await fn();
    if (revalidate) revalidatePath(revalidate, "layout");
    return { ok: true, data };
  } catch (e) {
    if (e instanceof AppError) return { ok: false, error: e.toBody().error };
    getDeps().log.error(unexpectedErrorFields(e), "unexpected error in server action");
    return { ok: false, error: { code: "internal", message: "Something went wrong on our side; nothing was changed." } };
  }
}

/**
 * A server action's arguments come from the network, whatever its TypeScript signature says
 * (anyone can POST any payload with a Next-Action header): parse them with zod at the boundary.
 * Bad arguments are an `invalid_request` value naming each argument and why, never a 500.
 */
export function parseArgs<S extends z.ZodType>(schema: S, args: unknown): { ok: true; data: z.infer<S> } | { ok: false; error: ActionResult<never> } {
  const parsed = schema.safeParse(args);
  if (parsed.success) return { ok: true, data: parsed.data };
  const fields = issuesToFields(parsed.error);
  const error = new AppError("invalid_request", `The action's arguments are not valid: ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("; ")}.`, { fields });
  return { ok: false, error: { ok: false, error: error.toBody().error } };
}

/**
 * parseArgs → the session's actor → run: the common shape of an action. `revalidate` is computed
 * from the parsed arguments.
 */
export async function runAction<S extends z.ZodType, T>(
  schema: S,
  args: unknown,
  fn: (a: z.infer<S>, actor: Actor | null) => Promise<T>,
  revalidate?: (a: z.infer<S>) => string,
): Promise<ActionResult<T>> {
  const parsed = parseArgs(schema, args);
  if (!parsed.ok) return parsed.error;
  return run(async () => fn(parsed.data, await getSessionActor()), revalidate?.(parsed.data));
}

/** Only same-site relative paths: never an open redirect (the one rule: lib/http/safe-next.ts). */
export { safeNext } from "@/lib/http/safe-next";

export const orgPath = (org: string) => `/orgs/${org}`;
