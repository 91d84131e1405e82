import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { webhookAuditTarget } from "./present";
import { ENDPOINT_ID_RE } from "./webhook-store";

/**
 * Remove a webhook endpoint and its delivery log; queued deliveries to it are dropped. Audited
 * (webhook.delete: the endpoint id and its URL's origin), refusals and unknown ids included.
 */
export async function deleteWebhook(args: { actor: Actor | null; org: string; id: string }, deps: CoreDeps = getDeps()): Promise<void> {
  const id = String(args.id);
  const audit = { actor: args.actor, org: args.org, action: "webhook.delete" as const };
  const note: { url?: string } = {};
  try {
    await deleteWebhookUnaudited({ ...args, id }, deps, note);
    await recordAudit(deps, { ...audit, outcome: "ok", target: webhookAuditTarget(id, note.url) });
  } catch (e) {
    await recordAuditFailure(deps, { ...audit, target: webhookAuditTarget(ENDPOINT_ID_RE.test(id) ? id : "?", note.url) }, e);
    throw e;
  }
}

async function deleteWebhookUnaudited(args: { actor: Actor | null; org: string; id: string }, deps: CoreDeps, note: { url?: string }): Promise<void> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const notFound = () => new AppError("not_found", `No webhook '${ENDPOINT_ID_RE.test(args.id) ? args.id : "?"}' in this organization.`);
  if (!ENDPOINT_ID_RE.test(args.id)) throw notFound();
  const endpoint = await deps.webhooks.getEndpoint(args.org, args.id);
  if (!endpoint) throw notFound();
  note.url = endpoint.url; // for the audit event (its origin only)
  if (!(await deps.webhooks.deleteEndpoint(args.org, args.id))) throw notFound();
}
