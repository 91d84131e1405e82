import { apiRoute, json } from "@/lib/http/route";
import { setupIntegration } from "@/lib/integrations";
import { SetupOutcomeSchema, type SetupResponse } from "@/lib/integrations/schemas";
import { publicConnectionTest } from "@/lib/errors";

export const dynamic = "force-dynamic";

// POST /integrations/{org}/{provider}/setup - format check → connection test → encrypt → store
export const POST = apiRoute({ auth: "api_key" }, async ({ actor, params, json: body, logFields }) => {
  const result = await setupIntegration({ actor, org: params.org!, provider: params.provider!, input: await body() });
  Object.assign(logFields, { fingerprint: result.integration.fingerprint, outcome: result.connection_test.outcome, version: result.integration.version });
  // The integration object was parsed through IntegrationSchema once, by the core (presentIntegration);
  // what the answer adds to it is parsed here: every field of the answer passes its schema once.
  const payload: SetupResponse = {
    ...result.integration,
    ...SetupOutcomeSchema.parse({
      connection_test: publicConnectionTest(result.connection_test),
      ...(Object.keys(result.warnings).length ? { warnings: result.warnings } : {}),
    }),
  };
  return json(result.created ? 201 : 200, payload);
});
