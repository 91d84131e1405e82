import "server-only";
import type { CoreDeps } from "../deps";
import { getReadyAuth } from "../auth/accounts";
import { recordAccountEvent } from "./record-account-event";

/**
 * sign_in.failed: a wrong password for an existing account is recorded in each organization the
 * account belongs to, so its owners and admins see guessing against their members. An unknown
 * address belongs to no org and is not recorded (the sign-in budget still counts it). The actor
 * is the targeted account (type user), with the client address of the attempt.
 */
export async function recordFailedSignIn(args: { email: string; requestId?: string; clientIp?: string | null }, deps: CoreDeps): Promise<void> {
  try {
    const auth = await getReadyAuth(deps.env);
    const adapter = (await auth.$context).adapter;
    const user = await adapter.findOne<{ id: string; email: string }>({ model: "user", where: [{ field: "email", value: args.email.trim().toLowerCase() }] });
    if (!user) return;
    await recordAccountEvent(deps, { user, action: "sign_in.failed", outcome: "unauthenticated", requestId: args.requestId, clientIp: args.clientIp });
  } catch (e) {
    deps.log.error({ err_name: (e as Error)?.name ?? "Error" }, "could not record a failed sign-in");
  }
}
