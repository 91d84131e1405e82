import "server-only";
import { revalidatePath } from "next/cache";
import { AppError } from "@/lib/errors";
import { getDeps } from "@/lib/integrations/deps";
import type { ActionResult } from "@/lib/ui/action-result";

/**
 * The body of every server action after the session is read: call the core (which authorizes),
 * revalidate, and turn failures into plain values. Unexpected errors are logged by name only (a
 * message could quote input) and reach the user as a generic message.
 */
export async function run<T>(fn: () => Promise<T>, revalidate?: string): Promise<ActionResult<T>> {
  try {
    const data = await fn();
    if (revalidate) revalidatePath(revalidate, "layout");
    return { ok: true, data };
  } catch (e) {
    if (e instanceof AppError) return { ok: false, error: e.toBody().error };
    getDeps().log.error({ err_name: (e as Error)?.name, stack: String((e as Error)?.stack ?? "").split("\n").slice(1, 6).join("\n") }, "unexpected error in server action");
    return { ok: false, error: { code: "internal", message: "Something went wrong on our side; nothing was changed." } };
  }
}

/** Only same-site relative paths: never an open redirect (the one rule: lib/http/safe-next.ts). */
export { safeNext } from "@/lib/http/safe-next";

export const orgPath = (org: string) => `/orgs/${org}`;
