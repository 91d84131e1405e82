import { checkReadiness } from "@/lib/readiness";

export const dynamic = "force-dynamic";

// GET /readyz - 200 when the key service and the store answer, else 503 naming the failing one
export async function GET() {
  const r = await checkReadiness();
  return Response.json(r, { status: r.ready ? 200 : 503, headers: { "cache-control": "no-store" } });
}
