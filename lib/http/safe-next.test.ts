import { describe, expect, it } from "vitest";
import { safeNext } from "./safe-next";

describe("safeNext (the ?next= redirect target)", () => {
  it("keeps same-site paths with their query", () => {
    for (const p of ["/", "/orgs/acme/integrations", "/orgs/acme/integrations/aws?tab=setup&x=1", "/invite/abc-123_x.y~z", "/a%20b"]) {
      expect(safeNext(p)).toBe(p);
    }
  });

  it("refuses every way out to another origin, and anything that is not a path", () => {
    const attacks = [
      "//evil.example",
      "//evil.example/orgs",
      "/\\evil.example",
      "\\\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "/\r\n//evil.example",
      "https://evil.example",
      "http:/evil.example",
      "javascript:alert(1)",
      "evil.example",
      " /orgs",
      "/orgs#frag", // fragments are not needed and "#" is not in the allowed set
      "/<script>",
      `/${"a".repeat(3000)}`,
      "",
    ];
    for (const a of attacks) expect(safeNext(a), JSON.stringify(a)).toBe("/");
    for (const v of [undefined, null, 1, ["/orgs"], { toString: () => "/orgs" }]) expect(safeNext(v)).toBe("/");
  });

  it("returns the given fallback instead of '/' when one is passed", () => {
    expect(safeNext("//evil.example", undefined)).toBeUndefined();
    expect(safeNext("/orgs", undefined)).toBe("/orgs");
  });
});
