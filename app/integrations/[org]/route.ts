import { apiRoute, json } from "@/lib/http/route";
import { listIntegrations } from "@/lib/integrations";

export const dynamic = "force-dynamic";

// GET /integrations/{org} - list the org's integrations (no secrets)
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params }) => {
  // listIntegrations already parsed its output through IntegrationListSchema (once).
  return json(200, await listIntegrations({ actor, org: params.org! }));
});
