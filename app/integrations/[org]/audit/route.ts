import { listAuditEvents } from "@/lib/audit/list-audit-events";
import { AuditPageSchema } from "@/lib/audit/events";
import { apiRoute, json } from "@/lib/http/route";

export const dynamic = "force-dynamic";

// GET /integrations/{org}/audit - audit events, newest first (owner and admin keys only)
export const GET = apiRoute({ auth: "api_key" }, async ({ actor, params, req }) => {
  const query = Object.fromEntries(new URL(req.url).searchParams);
  const page = await listAuditEvents({ actor, org: params.org!, query });
  return json(200, AuditPageSchema.parse(page));
});
