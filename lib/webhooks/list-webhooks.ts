import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { getDeps, type CoreDeps } from "../deps";
import { presentWebhook } from "./present";
import type { WebhookView } from "./schemas";

/** The org's webhook endpoints, oldest first (owners and admins; secrets never included). */
export async function listWebhooks(args: { actor: Actor | null; org: string }, deps: CoreDeps = getDeps()): Promise<{ webhooks: WebhookView[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  return { webhooks: (await deps.webhooks.listEndpoints(args.org)).map(presentWebhook) };
}
