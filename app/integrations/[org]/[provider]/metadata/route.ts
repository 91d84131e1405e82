import { apiRoute, json } from "@/lib/http/route";
import { updateIntegrationMetadata } from "@/lib/integrations";
import { IntegrationSchema } from "@/lib/integrations/schemas";

export const dynamic = "force-dynamic";

// PUT /integrations/{org}/{provider}/metadata - replace metadata, validated per provider
export const PUT = apiRoute({ auth: "api_key" }, async ({ actor, params, json: body, logFields }) => {
  const integration = await updateIntegrationMetadata({ actor, org: params.org!, provider: params.provider!, input: await body() });
  logFields.fingerprint = integration.fingerprint;
  return json(200, IntegrationSchema.parse(integration));
});
