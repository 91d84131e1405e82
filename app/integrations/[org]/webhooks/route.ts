import { apiRoute, json } from "@/lib/http/route";
import { createWebhook } from "@/lib/webhooks/create-webhook";
import { listWebhooks } from "@/lib/webhooks/list-webhooks";
import { WebhookCreatedSchema, WebhookListSchema } from "@/lib/webhooks/schemas";

export const dynamic = "force-dynamic";

// A static segment: Next matches it before app/integrations/[org]/[provider], and "webhooks" is a
// reserved id no provider may take (RESERVED_PROVIDER_IDS in lib/integrations/registry-schema.ts).

// GET /integrations/{org}/webhooks - the org's webhook endpoints (owners and admins; no secrets)
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params }) => {
  return json(200, WebhookListSchema.parse(await listWebhooks({ actor, org: params.org! })));
});

// POST /integrations/{org}/webhooks - add an endpoint; the signing secret is in this answer only
export const POST = apiRoute({ auth: "api_key" }, async ({ actor, params, json: body, logFields }) => {
  const created = await createWebhook({ actor, org: params.org!, input: await body() });
  logFields.webhook_id = created.id;
  return json(201, WebhookCreatedSchema.parse(created));
});
