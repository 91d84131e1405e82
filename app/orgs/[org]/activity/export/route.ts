import { auditEventsToCsv } from "@/lib/audit/csv";
import { listAuditEvents } from "@/lib/audit/list-audit-events";
import { AUDIT_MAX_LIMIT, type AuditEvent } from "@/lib/audit/events";
import { getSessionActor } from "@/lib/auth/session";
import { AppError } from "@/lib/errors";

export const dynamic = "force-dynamic";

/** At most this many events in one export; the file says so when it stops there. */
const MAX_EXPORT = 50_000;

// GET /orgs/{org}/activity/export?provider=&action= - the Activity page's filter as CSV (owners and admins, session)
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
    const events: AuditEvent[] = [];
    let cursor: string | null = null;
    do {
      const page = await listAuditEvents({ actor, org, query: { ...filter, limit: AUDIT_MAX_LIMIT, ...(cursor ? { cursor } : {}) } });
      events.push(...page.events);
      cursor = page.next_cursor;
    } while (cursor && events.length < MAX_EXPORT);
    const date = new Date().toISOString().slice(0, 10);
    return new Response(auditEventsToCsv(events.slice(0, MAX_EXPORT)), {
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
      return new Response(`${e.message}\n`, { status: e.status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
    }
    throw e;
  }
}
