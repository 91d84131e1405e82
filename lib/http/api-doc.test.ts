import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { API_DOC_SECTIONS, regenerateApiDoc, renderRoutes } from "./api-doc";
import { buildOpenApiDocument } from "./openapi";

const DOC = path.join(__dirname, "..", "..", "docs", "api.md");

describe("docs/api.md", () => {
  it("its generated sections match the code (run `npm run docs:api` after changing a route, an error code or the registry)", () => {
    const text = fs.readFileSync(DOC, "utf8");
    expect(regenerateApiDoc(text)).toBe(text);
  });

  it("lists every route and method of the OpenAPI document", () => {
    const table = renderRoutes();
    const doc = buildOpenApiDocument() as unknown as { paths: Record<string, Record<string, unknown>> };
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const m of Object.keys(ops)) expect(table).toMatch(new RegExp(`\\| ${m.toUpperCase()} \\| \`${p.replace(/[{}?]/g, "\\$&")}`));
    }
    expect(Object.keys(API_DOC_SECTIONS)).toEqual(["routes", "errors", "providers", "cli", "audit-actions"]);
  });
});
