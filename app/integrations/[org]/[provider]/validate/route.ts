import { apiRoute, json } from "@/lib/http/route";
import { validateIntegration } from "@/lib/integrations";
import { ValidateResponseSchema } from "@/lib/integrations/schemas";
import { publicConnectionTest } from "@/lib/errors";

export const dynamic = "force-dynamic";

// POST /integrations/{org}/{provider}/validate - decrypt → connection test → update status
export const POST = apiRoute({ auth: "api_key" }, async ({ actor, params, logFields }) => {
  const result = await validateIntegration({ actor, org: params.org!, provider: params.provider! });
  Object.assign(logFields, { fingerprint: result.integration.fingerprint, outcome: result.connection_test.outcome, status: result.integration.status });
  return json(200, ValidateResponseSchema.parse({ ...result.integration, connection_test: publicConnectionTest(result.connection_test) }));
});
