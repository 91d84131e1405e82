import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { presentDelivery } from "./present";
import type { WebhookDeliveryView } from "./schemas";
import { ENDPOINT_ID_RE } from "./webhook-store";

/** One endpoint's delivery log, newest first: status, attempts, last response code, next attempt. */
export async function listWebhookDeliveries(
  args: { actor: Actor | null; org: string; id: string; limit?: number },
  deps: CoreDeps = getDeps(),
): Promise<{ deliveries: WebhookDeliveryView[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const id = String(args.id);
  if (!ENDPOINT_ID_RE.test(id) || !(await deps.webhooks.getEndpoint(args.org, id))) {
    throw new AppError("not_found", `No webhook '${ENDPOINT_ID_RE.test(id) ? id : "?"}' in this organization.`);
  }
  const limit = Math.min(Math.max(Math.trunc(args.limit ?? 50), 1), 200);
  return { deliveries: (await deps.webhooks.listDeliveries(args.org, id, limit)).map(presentDelivery) };
}
