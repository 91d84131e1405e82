import net from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { startAnthropicFake, type AnthropicFake } from "@/tests/fakes/anthropic";
import { startGeminiFake, type GeminiFake } from "@/tests/fakes/gemini";
import {
  FAKE_ANTHROPIC_ADMIN_KEY,
  FAKE_ANTHROPIC_ADMIN_KEY_HANG,
  FAKE_ANTHROPIC_ADMIN_KEY_OVERLOADED,
  FAKE_ANTHROPIC_ADMIN_KEY_RATE_LIMITED,
  FAKE_ANTHROPIC_ADMIN_KEY_UNAVAILABLE,
  FAKE_ANTHROPIC_API_KEY,
  FAKE_ANTHROPIC_INVALID_KEY,
  FAKE_ANTHROPIC_ORG,
  FAKE_GEMINI_INVALID_KEY,
  FAKE_GEMINI_KEY,
  FAKE_GEMINI_KEY_EXPIRED,
  FAKE_GEMINI_KEY_HANG,
  FAKE_GEMINI_KEY_RATE_LIMITED,
  FAKE_GEMINI_KEY_SERVICE_DISABLED,
  FAKE_GEMINI_KEY_TOKEN_TYPE_UNSUPPORTED,
  FAKE_GEMINI_KEY_UNAVAILABLE,
  FAKE_GEMINI_LEGACY_KEY,
  FAKE_OPENAI_ADMIN_KEY,
  FAKE_OPENAI_ADMIN_KEY_HANG,
  FAKE_OPENAI_ADMIN_KEY_INSUFFICIENT_QUOTA,
  FAKE_OPENAI_ADMIN_KEY_IP_NOT_AUTHORIZED,
  FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE,
  FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE_CODED,
  FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED,
  FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE,
  FAKE_OPENAI_INVALID_KEY,
  FAKE_OPENAI_KEY_NO_ORGANIZATION,
  FAKE_OPENAI_ORG_ID,
  FAKE_OPENAI_PROJECT_KEY,
  FAKE_OPENAI_PROJECT_KEY_IP_NOT_AUTHORIZED,
  FAKE_OPENAI_SERVICE_ACCOUNT_KEY,
} from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { startProviderFakes } from "@/tests/fakes/index";
import * as fakeKeys from "@/tests/fakes/keys";

import { anthropicKeyKind, testAnthropic } from "./anthropic";
import { geminiKeyKind, testGemini } from "./gemini";
import { combineChecks, containsSecret, parseRetryAfter } from "./http";
import { testManual } from "./manual";
import { openAIKeyKind, testOpenAI } from "./openai";
import type { ConnectionTestContext, ConnectionTestResult } from "./types";
import { runConnectionTest } from "./index";
import { tinyBudget } from "@/tests/support/pacing";

// 2026-09-15T12:34:56Z
const FIXED_NOW = Date.UTC(2026, 8, 15, 12, 34, 56);

function ctxFor(
  provider: string,
  providerName: string,
  apiBase: string,
  credential: Record<string, unknown>,
  overrides: Partial<ConnectionTestContext> = {},
): ConnectionTestContext {
  return {
    provider,
    providerName,
    credential,
    endpoints: { api_base: apiBase },
    org: "acme",
    externalId: "cm-test-external-id",
    timeoutMs: 5_000,
    fetch: globalThis.fetch,
    pace: async () => {},
    now: Date.now,
    ...overrides,
  };
}

/** The public prefix of a key (documented, may appear in hints). */
function publicPrefix(key: string): string {
  return /^(sk-ant-[a-z]+\d*-|sk-[a-z]+-|AIza|AQ\.)/.exec(key)?.[0] ?? "";
}

/** No 8+ character run of the key that reaches past its public prefix appears anywhere in the result. */
function expectNoSecret(result: ConnectionTestResult, key: string): void {
  const text = JSON.stringify(result);
  const prefixLength = publicPrefix(key).length;
  for (let i = Math.max(0, prefixLength - 7); i + 8 <= key.length; i++) {
    const window = key.slice(i, i + 8);
    if (text.includes(window)) throw new Error(`result contains a run of the key: ${window}`);
  }
}

async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function check(result: ConnectionTestResult, name: string) {
  const found = result.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${JSON.stringify(result.checks)}`);
  return found;
}

// ---------------------------------------------------------------------------------------------

describe("OpenAI", () => {
  let fake: OpenAIFake;
  const run = async (credential: Record<string, unknown>, overrides: Partial<ConnectionTestContext> = {}) => {
    const result = await testOpenAI(ctxFor("openai", "OpenAI", fake.url, credential, overrides));
    if (typeof credential.api_key === "string") expectNoSecret(result, credential.api_key);
    return result;
  };

  beforeAll(async () => {
    fake = await startOpenAIFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.clearRequests());
  afterEach(() => fake.setMode("normal"));

  it("classifies key kinds by prefix", () => {
    expect(openAIKeyKind(FAKE_OPENAI_ADMIN_KEY)).toBe("admin");
    expect(openAIKeyKind(FAKE_OPENAI_PROJECT_KEY)).toBe("project");
    expect(openAIKeyKind(FAKE_OPENAI_SERVICE_ACCOUNT_KEY)).toBe("service_account");
    expect(openAIKeyKind("sk-service-abcdefghijklmnopqrstuvwxyz")).toBe("service_account");
    expect(openAIKeyKind("sk-abcdefghijklmnopqrstT3BlbkFJabcdefghijklmnopqrst")).toBe("user");
  });

  it("ok for an admin key: one costs call proves authenticate and read_costs", async () => {
    const result = await run(
      { api_key: FAKE_OPENAI_ADMIN_KEY, organization_id: FAKE_OPENAI_ORG_ID },
      { now: () => FIXED_NOW },
    );
    expect(result.outcome).toBe("ok");
    expect(result.key_kind).toBe("admin");
    expect(result.account).toEqual({ id: FAKE_OPENAI_ORG_ID, name: null });
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(result.checks.every((c) => c.message === undefined)).toBe(true);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe("GET");
    expect(req.pathname).toBe("/v1/organization/costs");
    expect(req.query.get("start_time")).toBe(String(Math.floor(FIXED_NOW / 1000) - 86_400));
    expect(req.query.get("limit")).toBe("1");
    expect(req.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_ADMIN_KEY}`);
    expect(req.headers["openai-organization"]).toBe(FAKE_OPENAI_ORG_ID);
  });

  it("ok for an admin key without organization_id: account is null, no OpenAI-Organization header", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY });
    expect(result.outcome).toBe("ok");
    expect(result.account).toBeNull();
    expect(fake.requests[0]!.headers["openai-organization"]).toBeUndefined();
  });

  for (const [label, key] of [
    ["code null (as seen in the wild)", FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE],
    ['code "missing_scope" (client fixtures)', FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE_CODED],
  ] as const) {
    it(`401 "Missing scopes: api.usage.read", ${label}: permission_denied naming the scope, not a revoked key`, async () => {
      const result = await run({ api_key: key });
      expect(fake.requests.length).toBe(1);
      expect(result.outcome).toBe("permission_denied");
      expect(check(result, "authenticate").outcome).toBe("ok");
      expect(check(result, "read_costs").outcome).toBe("permission_denied");
      expect(check(result, "read_costs").message).toMatch(/lacks the permission api\.usage\.read \(HTTP 401, missing scope\)/);
      expect(check(result, "read_costs").message).not.toMatch(/deleted|revoked/);
    });
  }

  it("missingScopes reads the scope names from the message, with either code, and nothing else", async () => {
    const { missingScopes } = await import("./openai");
    expect(missingScopes({ code: null, text: "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check…" })).toEqual(["api.usage.read"]);
    expect(missingScopes({ code: null, text: "Missing scopes: api.usage.read, api.management.read." })).toEqual(["api.usage.read", "api.management.read"]);
    expect(missingScopes({ code: "missing_scope", text: "" })).toEqual([]);
    expect(missingScopes({ code: "invalid_api_key", text: "Incorrect API key provided: sk-admin****abcd." })).toBeNull();
  });

  it("permission_denied for a project key, with the admin-key hint", async () => {
    const result = await run({ api_key: FAKE_OPENAI_PROJECT_KEY });
    expect(result.outcome).toBe("permission_denied");
    expect(result.key_kind).toBe("project");
    expect(check(result, "authenticate").outcome).toBe("ok");
    const costs = check(result, "read_costs");
    expect(costs.outcome).toBe("permission_denied");
    expect(costs.message).toMatch(/OpenAI Admin key \(sk-admin-…/);
    expect(costs.message).toMatch(/platform\.openai\.com\/settings\/organization\/admin-keys/);
    expect(fake.requests.map((r) => r.pathname)).toEqual(["/v1/models", "/v1/organization/costs"]);
    expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${FAKE_OPENAI_PROJECT_KEY}`)).toBe(true);
  });

  it("permission_denied for a service-account key", async () => {
    const result = await run({ api_key: FAKE_OPENAI_SERVICE_ACCOUNT_KEY });
    expect(result.outcome).toBe("permission_denied");
    expect(result.key_kind).toBe("service_account");
  });

  it("auth_failed for an unknown key (401 invalid_api_key); read_costs not run", async () => {
    const result = await run({ api_key: FAKE_OPENAI_INVALID_KEY });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toBe(
      "OpenAI rejected the key (invalid_api_key). Check that you pasted the whole key and that it has not been deleted.",
    );
    expect(check(result, "read_costs").outcome).toBe("skipped");
    expect(fake.requests).toHaveLength(1);
  });

  it("auth_failed for an admin key whose organization_id does not match", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY, organization_id: "org-SomeoneElse000000000000" });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/mismatched_organization/);
  });

  it("a valid admin key refused by the organization's IP allowlist (401 ip_not_authorized) is permission_denied naming the allowlist, never auth_failed", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY_IP_NOT_AUTHORIZED });
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").outcome).toBe("permission_denied");
    expect(check(result, "authenticate").message).toMatch(/ip_not_authorized.*IP allowlist/);
    expect(check(result, "authenticate").message).not.toMatch(/pasted|deleted|revoked/);
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("a valid project key refused by its project's IP allowlist on /v1/models is permission_denied too", async () => {
    const result = await run({ api_key: FAKE_OPENAI_PROJECT_KEY_IP_NOT_AUTHORIZED });
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").message).toMatch(/ip_not_authorized/);
    expect(fake.requests.map((r) => r.pathname)).toEqual(["/v1/models"]);
  });

  it("429 insufficient_quota (out of credit) is permission_denied about billing, not rate_limited", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY_INSUFFICIENT_QUOTA });
    expect(result.outcome).toBe("permission_denied");
    expect(result.retry_after_s).toBeUndefined();
    expect(check(result, "authenticate").message).toMatch(/insufficient_quota.*Billing/);
  });

  it("401 no_organization is auth_failed without blaming an organization_id that was never given", async () => {
    const result = await run({ api_key: FAKE_OPENAI_KEY_NO_ORGANIZATION });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/not a member of any organization \(no_organization\)/);
    expect(check(result, "authenticate").message).not.toMatch(/organization_id/);
  });

  it("rate_limited with retry_after_s from Retry-After: 7", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED });
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(check(result, "authenticate").retry_after_s).toBe(7);
    expect(check(result, "authenticate").message).toMatch(/in 7 s/);
  });

  it("provider_error for a 503", async () => {
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE });
    expect(result.outcome).toBe("provider_error");
    expect(check(result, "authenticate").message).toMatch(/^OpenAI answered 503.*this is on their side, try again later/);
  });

  it("provider_error when the fake is switched to unavailable for every key", async () => {
    fake.setMode("unavailable");
    const result = await run({ api_key: FAKE_OPENAI_PROJECT_KEY });
    expect(result.outcome).toBe("provider_error");
  });

  it("timeout when the provider never answers, within the context's timeout", async () => {
    const started = Date.now();
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY_HANG }, { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.outcome).toBe("timeout");
    expect(check(result, "authenticate").message).toBe(
      "OpenAI did not answer within 200 ms. Try again; if it persists, check the provider's status page.",
    );
  });

  it("network when nothing listens, naming only the origin", async () => {
    const url = await closedPortUrl();
    const result = await run({ api_key: FAKE_OPENAI_ADMIN_KEY }, { endpoints: { api_base: url } });
    expect(result.outcome).toBe("network");
    const message = check(result, "authenticate").message ?? "";
    expect(message).toContain(`Could not reach OpenAI at ${url}: connection refused`);
    expect(message).not.toContain("start_time");
    expect(message).not.toContain("/v1/");
  });

  it("auth_failed without a network call when no key is given", async () => {
    const result = await run({});
    expect(result.outcome).toBe("auth_failed");
    expect(fake.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("Anthropic", () => {
  let fake: AnthropicFake;
  const run = async (credential: Record<string, unknown>, overrides: Partial<ConnectionTestContext> = {}) => {
    const result = await testAnthropic(ctxFor("anthropic", "Anthropic", fake.url, credential, overrides));
    if (typeof credential.api_key === "string") expectNoSecret(result, credential.api_key);
    return result;
  };

  beforeAll(async () => {
    fake = await startAnthropicFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.clearRequests());
  afterEach(() => fake.setMode("normal"));

  it("classifies key kinds and the fake keys have the documented shapes", () => {
    expect(anthropicKeyKind(FAKE_ANTHROPIC_ADMIN_KEY)).toBe("admin");
    expect(anthropicKeyKind(FAKE_ANTHROPIC_API_KEY)).toBe("api");
    expect(anthropicKeyKind("sk-ant-oat01-x")).toBe("unknown");
    for (const key of [FAKE_ANTHROPIC_ADMIN_KEY, FAKE_ANTHROPIC_ADMIN_KEY_HANG, FAKE_ANTHROPIC_INVALID_KEY]) {
      expect(key).toMatch(/^sk-ant-admin01-[A-Za-z0-9_-]{93}AA$/);
    }
    expect(FAKE_ANTHROPIC_API_KEY).toMatch(/^sk-ant-api03-[A-Za-z0-9_-]{93}AA$/);
  });

  it("ok for an admin key: organization from /v1/organizations/me, then the cost report", async () => {
    const result = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY }, { now: () => FIXED_NOW });
    expect(result.outcome).toBe("ok");
    expect(result.key_kind).toBe("admin");
    expect(result.account).toEqual({ id: FAKE_ANTHROPIC_ORG.id, name: FAKE_ANTHROPIC_ORG.name });
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(fake.requests.map((r) => r.pathname)).toEqual(["/v1/organizations/me", "/v1/organizations/cost_report"]);
    for (const req of fake.requests) {
      expect(req.headers["x-api-key"]).toBe(FAKE_ANTHROPIC_ADMIN_KEY);
      expect(req.headers["anthropic-version"]).toBe("2023-06-01");
    }
    expect(fake.requests[1]!.query.get("starting_at")).toBe("2026-09-14T00:00:00Z");
    expect(fake.requests[1]!.query.get("limit")).toBe("1");
  });

  it("permission_denied for a workspace API key, with the admin-key hint", async () => {
    const result = await run({ api_key: FAKE_ANTHROPIC_API_KEY });
    expect(result.outcome).toBe("permission_denied");
    expect(result.key_kind).toBe("api");
    expect(result.account).toBeNull();
    expect(check(result, "authenticate").outcome).toBe("ok");
    expect(check(result, "read_costs").message).toMatch(
      /^An Anthropic Admin key \(sk-ant-admin01-…\) is needed to read usage and costs; workspace keys cannot\./,
    );
    expect(fake.requests.map((r) => r.pathname)).toEqual(["/v1/models", "/v1/organizations/me"]);
  });

  it("auth_failed for an unknown key (401 authentication_error)", async () => {
    const result = await run({ api_key: FAKE_ANTHROPIC_INVALID_KEY });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/^Anthropic rejected the key \(authentication_error\)/);
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("rate_limited with retry_after_s 7", async () => {
    const result = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY_RATE_LIMITED });
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(check(result, "authenticate").message).toMatch(/rate_limit_error/);
  });

  it("provider_error for 503 and for 529 overloaded_error", async () => {
    const unavailable = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY_UNAVAILABLE });
    expect(unavailable.outcome).toBe("provider_error");
    expect(check(unavailable, "authenticate").message).toMatch(/^Anthropic answered 503/);
    const overloaded = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY_OVERLOADED });
    expect(overloaded.outcome).toBe("provider_error");
    expect(check(overloaded, "authenticate").message).toMatch(/^Anthropic answered 529 \(overloaded_error\)/);
  });

  it("timeout when the provider never answers", async () => {
    const started = Date.now();
    const result = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY_HANG }, { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.outcome).toBe("timeout");
  });

  it("network when nothing listens", async () => {
    const url = await closedPortUrl();
    const result = await run({ api_key: FAKE_ANTHROPIC_ADMIN_KEY }, { endpoints: { api_base: url } });
    expect(result.outcome).toBe("network");
    expect(check(result, "authenticate").message).toContain(`Could not reach Anthropic at ${url}: connection refused`);
  });

  it("the fake requires anthropic-version (400) and x-api-key (401) like the real API", async () => {
    const noVersion = await fetch(`${fake.url}/v1/models`, { headers: { "x-api-key": FAKE_ANTHROPIC_API_KEY } });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const noKey = await fetch(`${fake.url}/v1/models`, { headers: { "anthropic-version": "2023-06-01" } });
    expect(noKey.status).toBe(401);
    const body = (await noKey.json()) as { request_id?: string };
    expect(body.request_id).toMatch(/^req_/);
  });
});

// ---------------------------------------------------------------------------------------------

describe("Gemini", () => {
  let fake: GeminiFake;
  const run = async (credential: Record<string, unknown>, overrides: Partial<ConnectionTestContext> = {}) => {
    const result = await testGemini(ctxFor("gemini", "Gemini", fake.url, credential, overrides));
    if (typeof credential.api_key === "string") expectNoSecret(result, credential.api_key);
    return result;
  };

  beforeAll(async () => {
    fake = await startGeminiFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.clearRequests());
  afterEach(() => fake.setMode("normal"));

  it("classifies key kinds and the fake keys have the documented shapes", () => {
    expect(geminiKeyKind(FAKE_GEMINI_KEY)).toBe("auth");
    expect(geminiKeyKind(FAKE_GEMINI_LEGACY_KEY)).toBe("standard");
    expect(FAKE_GEMINI_KEY).toMatch(/^AQ\.[A-Za-z0-9._-]{20,}$/);
    expect(FAKE_GEMINI_LEGACY_KEY).toMatch(/^AIza[0-9A-Za-z_-]{35}$/);
  });

  it("ok for an auth key; the key travels in x-goog-api-key, never in the URL; read_costs skipped", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY });
    expect(result.outcome).toBe("ok");
    expect(result.key_kind).toBe("auth");
    expect(result.account).toBeNull();
    expect(check(result, "authenticate").outcome).toBe("ok");
    expect(check(result, "read_costs")).toMatchObject({
      outcome: "skipped",
      message:
        "Gemini API keys have no cost API; spend appears in the Google Cloud project's billing export (connect GCP to read it).",
    });
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.path).toBe("/v1beta/models?pageSize=1");
    expect(req.query.has("key")).toBe(false);
    expect(req.path).not.toContain(FAKE_GEMINI_KEY.slice(3, 15));
    expect(req.headers["x-goog-api-key"]).toBe(FAKE_GEMINI_KEY);
  });

  it("ok for a standard (AIza) key", async () => {
    const result = await run({ api_key: FAKE_GEMINI_LEGACY_KEY });
    expect(result.outcome).toBe("ok");
    expect(result.key_kind).toBe("standard");
  });

  it("auth_failed for HTTP 400 API_KEY_INVALID", async () => {
    const result = await run({ api_key: FAKE_GEMINI_INVALID_KEY });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/^Google rejected the API key \(API_KEY_INVALID\)/);
  });

  it("expired for API_KEY_EXPIRED", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY_EXPIRED });
    expect(result.outcome).toBe("expired");
    expect(check(result, "authenticate").message).toMatch(/API_KEY_EXPIRED/);
  });

  it("auth_failed with the project hint for ACCESS_TOKEN_TYPE_UNSUPPORTED", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY_TOKEN_TYPE_UNSUPPORTED });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/Generative Language API enabled on the Google Cloud project/);
  });

  it("permission_denied for SERVICE_DISABLED", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY_SERVICE_DISABLED });
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").message).toMatch(/Enable the Generative Language API/);
  });

  it("rate_limited with retry_after_s from RetryInfo", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY_RATE_LIMITED });
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
  });

  it("provider_error for a 503", async () => {
    const result = await run({ api_key: FAKE_GEMINI_KEY_UNAVAILABLE });
    expect(result.outcome).toBe("provider_error");
    expect(check(result, "authenticate").message).toMatch(/^Gemini answered 503 \(UNAVAILABLE\)/);
  });

  it("timeout when the provider never answers", async () => {
    const started = Date.now();
    const result = await run({ api_key: FAKE_GEMINI_KEY_HANG }, { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.outcome).toBe("timeout");
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("network when nothing listens", async () => {
    const url = await closedPortUrl();
    const result = await run({ api_key: FAKE_GEMINI_KEY }, { endpoints: { api_base: url } });
    expect(result.outcome).toBe("network");
    expect(check(result, "authenticate").message).toContain(`Could not reach Gemini at ${url}: connection refused`);
  });

  it("the fake also accepts ?key= and answers a missing key with 403 PERMISSION_DENIED", async () => {
    const viaQuery = await fetch(`${fake.url}/v1beta/models?pageSize=1&key=${encodeURIComponent(FAKE_GEMINI_KEY)}`);
    expect(viaQuery.status).toBe(200);
    expect(((await viaQuery.json()) as { models: unknown[] }).models).toHaveLength(1);
    const missing = await fetch(`${fake.url}/v1beta/models`);
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { status: "PERMISSION_DENIED" } });
  });
});

// ---------------------------------------------------------------------------------------------

describe("manual entry", () => {
  it("is skipped without any network call", async () => {
    const fetchSpy = (() => {
      throw new Error("no network expected");
    }) as unknown as typeof fetch;
    const result = await testManual(
      ctxFor("saas_datadog", "Datadog", "http://127.0.0.1:9", { display_name: "Datadog", api_key: "dd-secret-value-123" }, { fetch: fetchSpy }),
    );
    expect(result).toEqual({
      outcome: "skipped",
      duration_ms: 0,
      checks: [
        {
          name: "manual_entry",
          outcome: "skipped",
          duration_ms: 0,
          message: "Manual entries have no remote credential to test; the values are stored encrypted as entered.",
        },
      ],
      account: null,
      key_kind: "manual",
    });
  });
});

describe("helpers", () => {
  it("every exported fake key is structurally valid for its provider and distinct", () => {
    const keys = Object.entries(fakeKeys).filter(
      (entry): entry is [string, string] => typeof entry[1] === "string" && /_KEY(_|$)/.test(entry[0]),
    );
    expect(keys.length).toBeGreaterThanOrEqual(20);
    expect(new Set(keys.map(([, v]) => v)).size).toBe(keys.length);
    for (const [name, key] of keys) {
      if (name.startsWith("FAKE_OPENAI_")) expect(key, name).toMatch(/^sk-[A-Za-z0-9_-]{20,}$/);
      else if (name.startsWith("FAKE_ANTHROPIC_")) expect(key, name).toMatch(/^sk-ant-(admin01|api03)-[A-Za-z0-9_-]{93}AA$/);
      else if (name.startsWith("FAKE_GEMINI_")) expect(key, name).toMatch(/^(AQ\.[A-Za-z0-9._-]{20,}|AIza[0-9A-Za-z_-]{35})$/);
      else throw new Error(`unexpected key constant ${name}`);
    }
  });

  it("the no-secret assertion itself catches a leaked run of a key", () => {
    const leaky = combineChecks([{ name: "a", outcome: "auth_failed", duration_ms: 0, message: `x ${FAKE_GEMINI_KEY.slice(10, 18)} y` }]);
    expect(() => expectNoSecret(leaky, FAKE_GEMINI_KEY)).toThrow(/run of the key/);
  });

  it("combineChecks: skipped does not fail; all skipped → skipped; first failure wins", () => {
    const ok = { name: "a", outcome: "ok" as const, duration_ms: 5 };
    const skipped = { name: "b", outcome: "skipped" as const, duration_ms: 0, message: "n/a" };
    const denied = { name: "c", outcome: "permission_denied" as const, duration_ms: 7, message: "no" };
    const limited = { name: "d", outcome: "rate_limited" as const, duration_ms: 1, message: "wait", retry_after_s: 3 };
    expect(combineChecks([ok, skipped]).outcome).toBe("ok");
    expect(combineChecks([skipped]).outcome).toBe("skipped");
    const failed = combineChecks([ok, denied, limited]);
    expect(failed.outcome).toBe("permission_denied");
    expect(failed.duration_ms).toBe(13);
    expect(failed.retry_after_s).toBeUndefined();
    expect(combineChecks([ok, limited]).retry_after_s).toBe(3);
  });

  it("combineChecks withholds a message that would reveal a secret", () => {
    const secret = FAKE_OPENAI_ADMIN_KEY;
    const leaky = { name: "a", outcome: "auth_failed" as const, duration_ms: 1, message: `bad key ${secret.slice(20, 40)}` };
    const result = combineChecks([leaky], { secrets: [secret] });
    expect(containsSecret(result.checks[0]!.message ?? "", [secret])).toBe(false);
    expect(result.checks[0]!.message).toMatch(/withheld/);
  });

  it("parseRetryAfter reads seconds and HTTP dates", () => {
    expect(parseRetryAfter(new Headers({ "retry-after": "7" }), FIXED_NOW)).toBe(7);
    const date = new Date(FIXED_NOW + 30_000).toUTCString();
    expect(parseRetryAfter(new Headers({ "retry-after": date }), FIXED_NOW)).toBe(30);
    expect(parseRetryAfter(new Headers({ "retry-after-ms": "1500" }), FIXED_NOW)).toBe(2);
    expect(parseRetryAfter(new Headers(), FIXED_NOW)).toBeUndefined();
  });

  it("startProviderFakes starts all three and closes them", async () => {
    const fakes = await startProviderFakes();
    try {
      expect(new Set([fakes.urls.openai, fakes.urls.anthropic, fakes.urls.gemini]).size).toBe(3);
      expect(fakes.env.GEMINI_API_BASE).toBe(fakes.gemini.url);
      const result = await testGemini(ctxFor("gemini", "Gemini", fakes.env.GEMINI_API_BASE, { api_key: FAKE_GEMINI_KEY }));
      expect(result.outcome).toBe("ok");
    } finally {
      await fakes.close();
    }
    const after = await testGemini(ctxFor("gemini", "Gemini", fakes.urls.gemini, { api_key: FAKE_GEMINI_KEY }));
    expect(after.outcome).toBe("network");
  });
});

// ---------------------------------------------------------------------------------------------

describe("pacing (docs/security.md, \"Pacing\"): on a budget of one, the second test is rate_limited and nothing is sent", () => {
  let openai: OpenAIFake;
  let anthropic: AnthropicFake;
  let gemini: GeminiFake;
  beforeAll(async () => {
    [openai, anthropic, gemini] = await Promise.all([startOpenAIFake(), startAnthropicFake(), startGeminiFake()]);
  });
  afterAll(async () => {
    await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
  });

  it("openai, anthropic and gemini (through ctx.fetch)", async () => {
    const cases = [
      ["openai", { OPENAI_API_BASE: openai.url }, { api_key: FAKE_OPENAI_ADMIN_KEY, organization_id: FAKE_OPENAI_ORG_ID }, openai],
      ["anthropic", { ANTHROPIC_API_BASE: anthropic.url }, { api_key: FAKE_ANTHROPIC_ADMIN_KEY }, anthropic],
      ["gemini", { GEMINI_API_BASE: gemini.url }, { api_key: FAKE_GEMINI_KEY }, gemini],
    ] as const;
    for (const [id, overrides, credential, fake] of cases) {
      const { provider, opts } = tinyBudget(id, overrides, { now: () => FIXED_NOW });
      expect((await runConnectionTest(provider, { ...credential }, opts)).outcome, id).toBe("ok");
      const sent = fake.requests.length;
      expect(sent, id).toBeGreaterThan(0);
      const two = await runConnectionTest(provider, { ...credential }, opts);
      expect(two.outcome, id).toBe("rate_limited");
      expect(fake.requests.length, id).toBe(sent);
    }
  });
});
