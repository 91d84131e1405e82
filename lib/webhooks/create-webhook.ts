import "server-only";
import crypto from "node:crypto";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { issuesToFields } from "../integrations/schemas";
import { CreateWebhookBodySchema, MAX_WEBHOOKS_PER_ORG, type WebhookView } from "./schemas";
import { sealWebhookSecret } from "./secret-box";
import { newWebhookSecret } from "./signing";
import { checkWebhookTarget, TargetRefused, type Resolver } from "./ssrf";
import { presentWebhook, webhookAuditTarget } from "./present";

/**
 * Add a webhook endpoint to an org (owners and admins). The URL is checked now (https, a public
 * host: lib/webhooks/ssrf.ts) and again at every delivery. The signing secret is returned here
 * once and kept only encrypted. The member who added it is recorded (for an org API key, the
 * member who created that key): removing or demoting them deletes it (withdrawGrants in
 * lib/auth/org-accounts.ts). Audited (webhook.create: the endpoint id and the URL's origin, never
 * its path, query or secret), refusals included.
 */
export async function createWebhook(
  args: { actor: Actor | null; org: string; input: unknown; resolve?: Resolver },
  deps: CoreDeps = getDeps(),
): Promise<WebhookView & { secret: string }> {
  const audit = { actor: args.actor, org: args.org, action: "webhook.create" as const };
  try {
    const r = await createWebhookUnaudited(args, deps);
    await recordAudit(deps, { ...audit, outcome: "ok", target: webhookAuditTarget(r.id, r.url) });
    return r;
  } catch (e) {
    const url = (args.input as { url?: unknown } | null)?.url;
    await recordAuditFailure(deps, { ...audit, target: webhookAuditTarget(null, url) }, e);
    throw e;
  }
}

async function createWebhookUnaudited(
  args: { actor: Actor | null; org: string; input: unknown; resolve?: Resolver },
  deps: CoreDeps,
): Promise<WebhookView & { secret: string }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const body = CreateWebhookBodySchema.safeParse(args.input);
  if (!body.success) {
    throw new AppError("invalid_request", 'The body must be {"url": "https://…", "events": [...]} with no other fields.', { fields: issuesToFields(body.error) });
  }
  try {
    await checkWebhookTarget(body.data.url, { allowPrivate: deps.env.WEBHOOK_ALLOW_PRIVATE, resolve: args.resolve });
  } catch (e) {
    if (e instanceof TargetRefused) throw new AppError("invalid_request", `The webhook URL ${e.message}.`, { fields: { url: e.message } });
    throw e;
  }
  if ((await deps.webhooks.countEndpoints(args.org)) >= MAX_WEBHOOKS_PER_ORG) {
    throw new AppError("invalid_request", `An organization can have at most ${MAX_WEBHOOKS_PER_ORG} webhook endpoints; remove one first.`);
  }
  const createdBy = await creatorOf(deps, args.actor!, args.org);
  const id = `wh_${crypto.randomBytes(8).toString("hex")}`;
  const secret = newWebhookSecret();
  const sealed = await sealWebhookSecret(deps.cipher, args.org, id, secret);
  const rec = {
    id,
    org: args.org,
    url: new URL(body.data.url).toString(),
    events: body.data.events,
    secretCiphertext: sealed.ciphertext,
    secretKeyRef: sealed.keyRef,
    secretKeyVersion: sealed.keyVersion,
    createdAt: new Date(deps.now()).toISOString(),
    createdBy,
  };
  await deps.webhooks.createEndpoint(rec);
  // Checked again now that the endpoint exists: a removal or demotion of its creator that ran
  // meanwhile deleted their endpoints before this one was there (withdrawGrants), so this request
  // deletes its own. Either this check sees the change, or the row was stored before the change
  // and the removal's second withdrawal, after the change, takes it.
  try {
    await stillAllowed(deps, args.actor!, args.org);
  } catch (e) {
    await deps.webhooks.deleteEndpoint(args.org, id);
    throw e;
  }
  return { ...presentWebhook(rec), secret };
}

/**
 * The member an endpoint is attributed to: the signed-in user, or for an org API key the member
 * who created that key (so an endpoint added with a member's key goes when the member goes); null
 * for the CLI and for keys the CLI made.
 */
async function creatorOf(deps: CoreDeps, actor: Actor, org: string): Promise<string | null> {
  if (actor.kind === "user") return actor.userId;
  if (actor.kind === "api_key") return (await deps.auth.getApiKey(org, actor.keyId))?.createdBy ?? null;
  return null;
}

/**
 * The role check again, and for an org API key that it has not been revoked since the request
 * verified it (a removal revokes its creator's keys first). Keys are never deleted but with their
 * org, which the role check already refuses.
 */
async function stillAllowed(deps: CoreDeps, actor: Actor, org: string): Promise<void> {
  await authorizeOrgOrThrow(deps, actor, org, "write");
  if (actor.kind === "api_key" && (await deps.auth.getApiKey(org, actor.keyId))?.revokedAt) {
    throw new AppError("unauthenticated", "The API key is not valid (unknown, malformed or revoked).");
  }
}
