import { describe, expect, it } from "vitest";
import { getRegistry, resolveProvider } from "./registry";
import { buildCredentialSchema, buildMetadataSchema } from "./schemas";

describe("compiled schemas are cached (the request path builds none)", () => {
  it("the same registry entry gives the same credential and metadata schema objects", () => {
    const openai = resolveProvider("openai")!;
    expect(buildCredentialSchema(openai)).toBe(buildCredentialSchema(resolveProvider("openai")!));
    expect(buildMetadataSchema(openai)).toBe(buildMetadataSchema(resolveProvider("openai")!));
  });

  it("every saas_<vendor> shares the template's schema, and different providers do not share", () => {
    const template = getRegistry().providers.find((p) => p.template)!;
    expect(buildCredentialSchema(resolveProvider("saas_datadog")!)).toBe(buildCredentialSchema(template));
    expect(buildCredentialSchema(resolveProvider("saas_snowflake")!)).toBe(buildCredentialSchema(template));
    expect(buildCredentialSchema(resolveProvider("anthropic")!)).not.toBe(buildCredentialSchema(resolveProvider("openai")!));
  });

  it("a cached schema still rejects and accepts exactly as before", () => {
    const s = buildCredentialSchema(resolveProvider("openai")!);
    expect(s.safeParse({ api_key: "not-a-key" }).success).toBe(false);
    expect(buildCredentialSchema(resolveProvider("openai")!).safeParse({ api_key: "not-a-key" }).success).toBe(false);
    expect(s.safeParse({ api_key: `sk-admin-${"a".repeat(40)}` }).success).toBe(true);
  });
});
