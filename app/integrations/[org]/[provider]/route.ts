import { apiRoute } from "@/lib/http/route";
import { deleteIntegration } from "@/lib/integrations";

export const dynamic = "force-dynamic";

// DELETE /integrations/{org}/{provider} - remove the integration and its ciphertext
export const DELETE = apiRoute({ auth: "api_key" }, async ({ actor, params, logFields }) => {
  const { fingerprint } = await deleteIntegration({ actor, org: params.org!, provider: params.provider! });
  logFields.fingerprint = fingerprint;
  return new Response(null, { status: 204 });
});
