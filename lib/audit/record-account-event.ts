import "server-only";
import type { CoreDeps } from "../deps";
import { listUserOrganizations } from "../auth/accounts";
import type { AuditAction } from "./events";
import { recordAudit } from "./record-audit";

/**
 * An event about a person's account rather than one org (sign_in.failed, password.reset): recorded
 * in each organization the account belongs to, so that org's owners and admins see it. The actor
 * is the account itself (type user), with the client address the request came from. Never throws:
 * a failure is logged by name and the caller's answer stands.
 */
export async function recordAccountEvent(
  deps: CoreDeps,
  args: { user: { id: string; email: string }; action: AuditAction; outcome: string; requestId?: string; clientIp?: string | null },
): Promise<void> {
  try {
    for (const o of await listUserOrganizations(deps.env, args.user.id)) {
      if (!(await deps.auth.getOrg(o.slug))) continue;
      await recordAudit(deps, {
        actor: null,
        auditActor: { type: "user", id: args.user.id, email: args.user.email },
        org: o.slug,
        action: args.action,
        outcome: args.outcome,
        request_id: args.requestId,
        client_ip: args.clientIp && args.clientIp !== "unknown" ? args.clientIp : null,
      });
    }
  } catch (e) {
    deps.log.error({ action: args.action, err_name: (e as Error)?.name ?? "Error" }, "could not record an account event");
  }
}
