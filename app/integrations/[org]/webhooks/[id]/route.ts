import { apiRoute } from "@/lib/http/route";
import { deleteWebhook } from "@/lib/webhooks/delete-webhook";

export const dynamic = "force-dynamic";

// DELETE /integrations/{org}/webhooks/{id} - remove an endpoint and its delivery log
export const DELETE = apiRoute({ auth: "api_key" }, async ({ actor, params, logFields }) => {
  await deleteWebhook({ actor, org: params.org!, id: params.id! });
  logFields.webhook_id = params.id;
  return new Response(null, { status: 204 });
});
