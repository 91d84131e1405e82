import { publicRegistry } from "@/lib/integrations/public-registry";

export const dynamic = "force-dynamic";

// GET /providers - the public provider registry (no auth, never a secret)
export function GET() {
  return Response.json(publicRegistry(), { headers: { "cache-control": "public, max-age=300" } });
}
