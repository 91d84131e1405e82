import { apiRoute, json } from "@/lib/http/route";
import { listWebhookDeliveries } from "@/lib/webhooks/list-webhook-deliveries";
import { WebhookDeliveryListSchema } from "@/lib/webhooks/schemas";

export const dynamic = "force-dynamic";

// GET /integrations/{org}/webhooks/{id}/deliveries?limit= - the endpoint's delivery log, newest first
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params, req }) => {
  const limit = Number(new URL(req.url).searchParams.get("limit") ?? "50");
  const r = await listWebhookDeliveries({ actor, org: params.org!, id: params.id!, limit: Number.isFinite(limit) ? limit : 50 });
  return json(200, WebhookDeliveryListSchema.parse(r));
});
