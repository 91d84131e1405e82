import { apiRoute, json } from "@/lib/http/route";
import { accessCredential } from "@/lib/integrations/access-credential";
import { AccessResponseSchema } from "@/lib/integrations/access-schema";

export const dynamic = "force-dynamic";

// POST /integrations/{org}/{provider}/access - a pipeline key gets what it needs to call the provider
export const POST = apiRoute({ auth: "api_key", keyRoles: ["pipeline"] }, async ({ actor, params, requestId, logFields }) => {
  const result = await accessCredential({ actor, org: params.org!, provider: params.provider!, requestId });
  Object.assign(logFields, { fingerprint: result.fingerprint, version: result.version, kind: result.kind });
  return json(200, AccessResponseSchema.parse(result));
});
