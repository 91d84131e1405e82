import { apiRoute, json } from "@/lib/http/route";
import { listIntegrations } from "@/lib/integrations";
import { IntegrationListSchema } from "@/lib/integrations/schemas";

export const dynamic = "force-dynamic";

// GET /integrations/{org} - list the org's integrations (no secrets)
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params }) => {
  const result = await listIntegrations({ actor, org: params.org! });
  return json(200, IntegrationListSchema.parse(result));
});
