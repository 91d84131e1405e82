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
 * once and kept only encrypted. Audited (webhook.create: the endpoint id and the URL's origin,
 * never its path, query or secret), refusals included.
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
  };
  await deps.webhooks.createEndpoint(rec);
  return { ...presentWebhook(rec), secret };
}
