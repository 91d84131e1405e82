import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { ENDPOINT_ID_RE } from "./webhook-store";

/** Remove a webhook endpoint and its delivery log; queued deliveries to it are dropped. */
export async function deleteWebhook(args: { actor: Actor | null; org: string; id: string }, deps: CoreDeps = getDeps()): Promise<void> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const id = String(args.id);
  const notFound = () => new AppError("not_found", `No webhook '${ENDPOINT_ID_RE.test(id) ? id : "?"}' in this organization.`);
  if (!ENDPOINT_ID_RE.test(id)) throw notFound();
  if (!(await deps.webhooks.deleteEndpoint(args.org, id))) throw notFound();
}
