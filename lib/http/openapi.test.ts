import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "./openapi";

const APP = path.join(__dirname, "..", "..", "app");
/** Route handlers that are not part of the REST API: the document itself, and the web UI's CSV export (session cookie). */
const NOT_API = new Set(["/openapi.json", "/orgs/{org}/activity/export"]);

function routeFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return routeFiles(full);
    return e.name === "route.ts" ? [full] : [];
  });
}

describe("OpenAPI document", () => {
  it("documents every method of every REST route handler under app/", () => {
    const doc = buildOpenApiDocument() as unknown as { paths: Record<string, Record<string, unknown>> };
    const handlers = routeFiles(APP)
      .map((f) => ({
        route: "/" + path.relative(APP, path.dirname(f)).split(path.sep).join("/").replace(/\[(\w+)\]/g, "{$1}"),
        methods: [...fs.readFileSync(f, "utf8").matchAll(/export\s+(?:const|async function|function)\s+(GET|POST|PUT|PATCH|DELETE)\b/g)].map((m) => m[1]!.toLowerCase()),
      }))
      .filter((h) => !NOT_API.has(h.route));
    expect(handlers.map((h) => h.route)).toContain("/integrations/{org}/{provider}/setup-info");
    const missing = handlers.flatMap((h) => h.methods.filter((m) => !doc.paths[h.route]?.[m]).map((m) => `${m.toUpperCase()} ${h.route}`));
    expect(missing).toEqual([]);
  });

  it("describes setup-info's answer with the schema the use case's type comes from", () => {
    const doc = buildOpenApiDocument() as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }> }>>;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    const ok = doc.paths["/integrations/{org}/{provider}/setup-info"]!.get!.responses["200"]!;
    expect(ok.content!["application/json"]!.schema.$ref).toBe("#/components/schemas/SetupInfo");
    expect(doc.components.schemas.SetupInfo!.required).toEqual(expect.arrayContaining(["org", "provider", "steps", "permissions", "roles", "docs"]));
  });
});
