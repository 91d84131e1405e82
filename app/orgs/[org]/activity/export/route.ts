import { exportAuditCsv } from "@/lib/audit/export-csv";
import { getSessionActor } from "@/lib/auth/session";
import { AppError } from "@/lib/errors";

export const dynamic = "force-dynamic";

// GET /orgs/{org}/activity/export?provider=&action= - the Activity page's filter as CSV (owners and admins, session).
// Streamed page by page and budgeted per org: lib/audit/export-csv.ts.
export async function GET(req: Request, { params }: { params: Promise<{ org: string }> }): Promise<Response> {
  const { org } = await params;
  const sp = new URL(req.url).searchParams;
  const filter: Record<string, string> = {};
  for (const k of ["provider", "action"]) {
    const v = sp.get(k);
    if (v) filter[k] = v;
  }
  try {
    const actor = await getSessionActor();
    const body = await exportAuditCsv({ actor, org, filter });
    const date = new Date().toISOString().slice(0, 10);
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="audit-${org}-${date}.csv"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  } catch (e) {
    if (e instanceof AppError) {
      // Not a member (or no such org) is 404, as everywhere: the org's existence is not revealed.
      const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
      if (e.extra.retryAfterS !== undefined) headers["retry-after"] = String(e.extra.retryAfterS);
      return new Response(`${e.message}\n`, { status: e.status, headers });
    }
    throw e;
  }
}
