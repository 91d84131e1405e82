import { describe, expect, it } from "vitest";
import * as pageStaticInfo from "next/dist/build/analysis/get-page-static-info";
import { config } from "../../proxy";
import { checkPath, isApiPath, servedOverHttps } from "./api-paths.mjs";

// Next's own compilation of a proxy matcher (what `next build` writes to
// .next/server/functions-config-manifest.json); exported by the module, not by its types.
const { getMiddlewareMatchers } = pageStaticInfo as unknown as { getMiddlewareMatchers(matcher: unknown, nextConfig: object): Array<{ regexp: string }> };

describe("the JSON API's paths", () => {
  const apiPaths = ["/integrations/acme", "/integrations/acme/openai/setup", "/integrations/acme/webhooks/x/deliveries", "/providers", "/providers/openai", "/healthz", "/readyz", "/openapi.json", "/healthz/"];
  const pagePaths = ["/", "/integrations", "/orgs/acme/integrations", "/orgs/acme/integrations/openai", "/providersx", "/healthzz", "/Providers", "/openapi.jsonx", "/openapixjson", "/sign-in", "/no-such-page", "/orgs/acme/activity/export"];

  it("isApiPath says which paths are the API's", () => {
    for (const p of apiPaths) expect(isApiPath(p), p).toBe(true);
    for (const p of pagePaths) expect(isApiPath(p), p).toBe(false);
  });

  it("proxy.ts runs on exactly the other paths: its matcher, compiled as Next compiles it, leaves out the API's and nothing else", () => {
    const matchers = getMiddlewareMatchers(config.matcher, {}).map((m) => new RegExp(m.regexp));
    const proxied = (p: string) => matchers.some((m) => m.test(p));
    for (const p of [...apiPaths, ...pagePaths]) expect(proxied(p), p).toBe(!isApiPath(p));
    // Next's static assets stay outside the proxy, as before.
    expect(proxied("/_next/static/chunks/x.js")).toBe(false);
  });

  it("a path whose percent-encoding does not decode, or decodes to control characters, is refused", () => {
    expect(checkPath("/integrations/%ff%fe")).toMatch(/malformed percent-encoding/);
    expect(checkPath("/integrations/%00/openai/setup")).toMatch(/control characters/);
    expect(checkPath("/integrations/acme%2dx")).toBeNull();
  });

  it("https: over TLS, when a TLS-terminating proxy says so, or when the public origin is https", () => {
    expect(servedOverHttps(false, undefined, undefined)).toBe(false);
    expect(servedOverHttps(false, "http", "http://localhost:8000")).toBe(false);
    expect(servedOverHttps(true, undefined, undefined)).toBe(true);
    expect(servedOverHttps(false, "https", undefined)).toBe(true);
    expect(servedOverHttps(false, undefined, "https://costs.example.com")).toBe(true);
  });
});
