import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { findUserEmails } from "../auth/accounts";
import { getDeps, type CoreDeps } from "../deps";
import { presentWebhook } from "./present";
import type { WebhookView } from "./schemas";

/** The org's webhook endpoints, oldest first (owners and admins; secrets never included). */
export async function listWebhooks(args: { actor: Actor | null; org: string }, deps: CoreDeps = getDeps()): Promise<{ webhooks: WebhookView[] }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  return { webhooks: (await deps.webhooks.listEndpoints(args.org)).map(presentWebhook) };
}

/**
 * An endpoint as the webhooks settings page shows it: with who added it (their email, "a deleted
 * user", or null when not recorded: added with a key the CLI made, or before creators were kept).
 * The REST list keeps its documented shape (docs/api.md); the page alone shows the creator, as the
 * API keys page does for keys.
 */
export type WebhookPageView = WebhookView & { creator: string | null };

export async function listWebhooksWithCreators(args: { actor: Actor | null; org: string }, deps: CoreDeps = getDeps()): Promise<WebhookPageView[]> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const endpoints = await deps.webhooks.listEndpoints(args.org);
  const emails = await findUserEmails(deps.env, endpoints.flatMap((e) => (e.createdBy ? [e.createdBy] : [])));
  return endpoints.map((e) => ({ ...presentWebhook(e), creator: e.createdBy ? (emails.get(e.createdBy) ?? "a deleted user") : null }));
}
