import { buildOpenApiDocument } from "@/lib/http/openapi";

export const dynamic = "force-dynamic";

// GET /openapi.json - OpenAPI 3.1, generated from the same zod schemas the routes use
export function GET() {
  return Response.json(buildOpenApiDocument(), { headers: { "cache-control": "public, max-age=300" } });
}
