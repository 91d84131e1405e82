import { apiRoute, json } from "@/lib/http/route";
import { getSetupInfo } from "@/lib/integrations/get-setup-info";

export const dynamic = "force-dynamic";

// GET /integrations/{org}/{provider}/setup-info - what to prepare before creating the credential (never a secret)
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params }) => {
  return json(200, await getSetupInfo({ actor, org: params.org!, provider: params.provider! }));
});
