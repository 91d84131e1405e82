export const dynamic = "force-dynamic";

// GET /healthz - the process is up
export function GET() {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
