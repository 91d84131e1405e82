import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { AppError } from "@/lib/errors";
import { startAzureFakes, type AzureFakes, type AzureRecordedRequest } from "@/tests/fakes/azure";
import {
  FAKE_AZURE_APP,
  FAKE_AZURE_APP_EXPIRED_SECRET,
  FAKE_AZURE_APP_HANG,
  FAKE_AZURE_APP_NO_ROLES,
  FAKE_AZURE_APP_THROTTLED,
  FAKE_AZURE_APP_UNAVAILABLE,
  FAKE_AZURE_OPENAI_ENDPOINT,
  FAKE_AZURE_OTHER_TENANT_ID,
  FAKE_AZURE_OTHER_TENANT_SUBSCRIPTION_ID,
  FAKE_AZURE_SECRET_ID,
  FAKE_AZURE_SUBSCRIPTION_ID,
  FAKE_AZURE_TENANT_ID,
  FAKE_AZURE_UNKNOWN_CLIENT_ID,
  FAKE_AZURE_UNKNOWN_SUBSCRIPTION_ID,
  FAKE_AZURE_UNKNOWN_TENANT_ID,
  FAKE_AZURE_WRONG_SECRET,
  fakeClientSecret,
  fakeGuid,
  type FakeAzureAppCredential,
} from "@/tests/fakes/azure-keys";
import { removeTestCa, trustCaInProcess } from "@/tests/fakes/tls";

import {
  AZURE_COST_QUERY_BODY,
  AZURE_OPENAI_FALLBACK_SCOPE,
  AZURE_OPENAI_SCOPE,
  azureOpenAIBase,
  testAzureOpenAI,
  testAzureServicePrincipal,
} from "./index";
import { runAuthenticate, runConnectionTest } from "../index";
import type { ConnectionTestContext, ConnectionTestResult } from "../types";
import { tinyBudget } from "@/tests/support/pacing";

let fakes: AzureFakes;
let untrust: () => void;

beforeAll(async () => {
  fakes = await startAzureFakes();
  // The vitest process cannot take NODE_EXTRA_CA_CERTS any more: trust the fakes' CA in-process.
  untrust = trustCaInProcess(fakes.caPem);
});

afterAll(async () => {
  untrust?.();
  await fakes?.close();
  removeTestCa(); // vitest ends its workers without an "exit" event: delete the temp CA here
});

beforeEach(() => {
  fakes.setMode("normal");
  fakes.setOpenAIAcceptedAudiences([]);
  fakes.setOpenAIPermissionDeniedStatus(401);
  fakes.clearRequests();
});

function baseCtx(overrides: Partial<ConnectionTestContext>): ConnectionTestContext {
  return {
    provider: "azure",
    providerName: "Microsoft Azure",
    credential: {},
    endpoints: {},
    org: "acme",
    externalId: "cm-test-external-id",
    timeoutMs: 5_000,
    fetch: globalThis.fetch,
    pace: async () => {},
    now: Date.now,
    ...overrides,
  };
}

function azureCtx(app: FakeAzureAppCredential, subscriptionId = FAKE_AZURE_SUBSCRIPTION_ID, overrides: Partial<ConnectionTestContext> = {}) {
  return baseCtx({
    credential: { ...app, subscription_id: subscriptionId },
    endpoints: { authority_host: fakes.authorityUrl, management_base: fakes.managementUrl },
    ...overrides,
  });
}

function aoaiCtx(app: FakeAzureAppCredential, endpoint = FAKE_AZURE_OPENAI_ENDPOINT, overrides: Partial<ConnectionTestContext> = {}) {
  return baseCtx({
    provider: "azure_openai",
    providerName: "Azure OpenAI",
    credential: { ...app, endpoint },
    endpoints: { authority_host: fakes.authorityUrl, endpoint_override: fakes.openaiUrl },
    ...overrides,
  });
}

const tokenRequests = (): AzureRecordedRequest[] =>
  fakes.requests.filter((r) => r.service === "token" && r.pathname.endsWith("/oauth2/v2.0/token"));
const byService = (service: AzureRecordedRequest["service"]) => fakes.requests.filter((r) => r.service === service);

/** Neither the client secret nor any token the fake issued appears anywhere in the result. */
function expectNoSecrets(result: ConnectionTestResult, secret: string): void {
  const text = JSON.stringify(result);
  for (let i = 0; i + 8 <= secret.length; i++) {
    const window = secret.slice(i, i + 8);
    if (text.includes(window)) throw new Error(`result contains a run of the client secret: ${window}`);
  }
  for (const { token } of fakes.tokens) {
    // The JWT header is the same for every token; check the claims and signature parts.
    const body = token.slice(token.indexOf(".") + 1);
    for (let i = 0; i + 16 <= body.length; i += 4) {
      if (text.includes(body.slice(i, i + 16))) throw new Error("result contains part of an access token");
    }
  }
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
}

function messageOf(result: ConnectionTestResult, name: string): string {
  return result.checks.find((c) => c.name === name)?.message ?? "";
}

/**
 * The hung data-plane call timed out. timeoutMs (300) bounds the token requests too, and on a
 * heavily loaded machine a token request can itself take that long: then authenticate is the check
 * that timed out, and the hung call was never made. Either way the outcome is timeout.
 */
function expectDataPlaneTimeout(result: ConnectionTestResult, check: string, service: AzureRecordedRequest["service"]): void {
  expect(result.outcome).toBe("timeout");
  const [auth, data] = result.checks;
  if (auth?.outcome === "ok") {
    expect(data).toMatchObject({ name: check, outcome: "timeout" });
    expect(data?.message).toMatch(/did not answer within 300 ms/);
    expect(byService(service)).toHaveLength(1);
  } else {
    expect(auth?.outcome).toBe("timeout");
  }
}

/** A port that was just free (nothing listens on it). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------

describe("azure (service principal → Cost Management)", () => {
  it("a working credential: token over HTTPS for the ARM scope, then the month-to-date cost query", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("ok");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(result.account).toEqual({ id: FAKE_AZURE_TENANT_ID, name: `subscription ${FAKE_AZURE_SUBSCRIPTION_ID}` });
    expect(result.key_kind).toBe("client_secret");

    // MSAL read the tenant's OpenID metadata, then posted client credentials — over TLS, to the fake.
    expect(fakes.authorityUrl).toMatch(/^https:\/\//);
    const discovery = fakes.requests.find((r) => r.service === "token" && r.method === "GET");
    expect(discovery?.pathname).toBe(`/${FAKE_AZURE_TENANT_ID}/v2.0/.well-known/openid-configuration`);
    const [tokenReq, ...more] = tokenRequests();
    expect(more).toHaveLength(0);
    expect(tokenReq?.encrypted).toBe(true);
    expect(tokenReq?.pathname).toBe(`/${FAKE_AZURE_TENANT_ID}/oauth2/v2.0/token`);
    const form = new URLSearchParams(tokenReq?.body);
    expect(form.get("grant_type")).toBe("client_credentials");
    expect(form.get("client_id")).toBe(FAKE_AZURE_APP.client_id);
    expect(form.get("scope")).toBe("https://management.azure.com/.default");

    const [query] = byService("management");
    expect(query?.method).toBe("POST");
    expect(query?.pathname).toBe(`/subscriptions/${FAKE_AZURE_SUBSCRIPTION_ID}/providers/Microsoft.CostManagement/query`);
    expect(query?.query.get("api-version")).toBe("2023-11-01");
    expect(JSON.parse(query?.body ?? "null")).toEqual(AZURE_COST_QUERY_BODY);
    const issued = fakes.tokens.at(-1);
    expect(issued?.audience).toBe("https://management.azure.com");
    expect(query?.headers.authorization).toBe(`Bearer ${issued?.token}`);
    expectNoSecrets(result, FAKE_AZURE_APP.client_secret);
  });

  it("a wrong secret → auth_failed: paste the secret VALUE, not its ID (AADSTS7000215)", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_WRONG_SECRET }));
    expect(result.outcome).toBe("auth_failed");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "auth_failed"],
      ["read_costs", "skipped"],
    ]);
    expect(messageOf(result, "authenticate")).toMatch(/AADSTS7000215/);
    expect(messageOf(result, "authenticate")).toMatch(/VALUE.*not its Secret ID/);
    expect(result.account).toBeNull();
    expect(result.key_kind).toBe("client_secret");
    expect(byService("management")).toHaveLength(0);
    expectNoSecrets(result, FAKE_AZURE_WRONG_SECRET);
  });

  it("the secret's ID (a GUID) pasted instead of its value → the same hint", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_SECRET_ID }));
    expect(result.outcome).toBe("auth_failed");
    expect(messageOf(result, "authenticate")).toMatch(/Secret ID/);
  });

  it("an expired secret → expired: create a new one (AADSTS7000222)", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP_EXPIRED_SECRET));
    expect(result.outcome).toBe("expired");
    expect(messageOf(result, "authenticate")).toMatch(/expired \(AADSTS7000222\)/);
    expect(messageOf(result, "authenticate")).toMatch(/new client secret/);
    expectNoSecrets(result, FAKE_AZURE_APP_EXPIRED_SECRET.client_secret);
  });

  it("an unknown app → not_found: check client_id and tenant_id (AADSTS700016)", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, client_id: FAKE_AZURE_UNKNOWN_CLIENT_ID }));
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "authenticate")).toMatch(/AADSTS700016/);
    expect(messageOf(result, "authenticate")).toMatch(/client_id.*tenant_id/);
    expect(messageOf(result, "authenticate")).toContain(FAKE_AZURE_UNKNOWN_CLIENT_ID);
  });

  it("the app's id with the wrong (existing) tenant → not_found, app not in that tenant", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, tenant_id: FAKE_AZURE_OTHER_TENANT_ID }));
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "authenticate")).toMatch(/not found in tenant .* \(AADSTS700016\)/);
  });

  it("an unknown tenant → not_found: tenant not found (AADSTS90002), no secret sent", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, tenant_id: FAKE_AZURE_UNKNOWN_TENANT_ID }));
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "authenticate")).toMatch(/Tenant .* was not found \(AADSTS90002\)/);
    // MSAL stopped at the OpenID metadata: the secret never left the process.
    expect(tokenRequests()).toHaveLength(0);
  });

  it("a malformed tenant id is refused before any request", async () => {
    const result = await testAzureServicePrincipal(azureCtx({ ...FAKE_AZURE_APP, tenant_id: ".." }));
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "authenticate")).toMatch(/tenant_id is not a tenant/);
    expect(fakes.requests).toHaveLength(0);
  });

  it("a subscription of another tenant → auth_failed (InvalidAuthenticationTokenTenant)", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP, FAKE_AZURE_OTHER_TENANT_SUBSCRIPTION_ID));
    expect(result.outcome).toBe("auth_failed");
    expect(result.checks.map((c) => c.outcome)).toEqual(["ok", "auth_failed"]);
    expect(messageOf(result, "read_costs")).toMatch(/belongs to a different tenant/);
  });

  it("an unknown subscription → not_found (SubscriptionNotFound)", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP, FAKE_AZURE_UNKNOWN_SUBSCRIPTION_ID));
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "read_costs")).toMatch(/SubscriptionNotFound/);
    expect(messageOf(result, "read_costs")).toContain(FAKE_AZURE_UNKNOWN_SUBSCRIPTION_ID);
  });

  it("no Cost Management role → permission_denied: assign Cost Management Reader", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP_NO_ROLES));
    expect(result.outcome).toBe("permission_denied");
    expect(result.checks.map((c) => c.outcome)).toEqual(["ok", "permission_denied"]);
    expect(messageOf(result, "read_costs")).toMatch(/AuthorizationFailed/);
    expect(messageOf(result, "read_costs")).toMatch(/"Cost Management Reader" role on the subscription/);
    // The identity was proven: the account is recorded even though the permission is missing.
    expect(result.account).toEqual({ id: FAKE_AZURE_TENANT_ID, name: `subscription ${FAKE_AZURE_SUBSCRIPTION_ID}` });
    expectNoSecrets(result, FAKE_AZURE_APP_NO_ROLES.client_secret);
  });

  it("throttled → rate_limited with retry_after_s from the Cost Management QPU header", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP_THROTTLED));
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(9);
    expect(result.checks[1]).toMatchObject({ name: "read_costs", outcome: "rate_limited", retry_after_s: 9 });
    expect(messageOf(result, "read_costs")).toMatch(/in 9 s/);
  });

  it("Cost Management 503 → provider_error", async () => {
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP_UNAVAILABLE));
    expect(result.outcome).toBe("provider_error");
    expect(messageOf(result, "read_costs")).toMatch(/503/);
  });

  it("Cost Management never answers (timeoutMs 300) → timeout", async () => {
    const started = Date.now();
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP_HANG, FAKE_AZURE_SUBSCRIPTION_ID, { timeoutMs: 300 }));
    expectDataPlaneTimeout(result, "read_costs", "management");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("the token service never answers (timeoutMs 300) → timeout on authenticate", async () => {
    fakes.setMode("hang", "token");
    const started = Date.now();
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, { timeoutMs: 300 }));
    expect(result.outcome).toBe("timeout");
    expect(result.checks.map((c) => c.outcome)).toEqual(["timeout", "skipped"]);
    expect(messageOf(result, "authenticate")).toMatch(/Microsoft Entra ID did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("the token service throttles → rate_limited with its Retry-After", async () => {
    fakes.setMode("rate_limited", "token");
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(9);
  });

  it("the token service answers 503 → provider_error", async () => {
    fakes.setMode("unavailable", "token");
    const result = await testAzureServicePrincipal(azureCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("provider_error");
    expect(messageOf(result, "authenticate")).toMatch(/Microsoft Entra ID answered 503/);
  });

  it("nothing listens at the authority host → network", async () => {
    const port = await closedPort();
    const result = await testAzureServicePrincipal(
      azureCtx(FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, {
        endpoints: { authority_host: `https://127.0.0.1:${port}`, management_base: fakes.managementUrl },
      }),
    );
    expect(result.outcome).toBe("network");
    expect(messageOf(result, "authenticate")).toMatch(/connection refused \(ECONNREFUSED\)/);
  });

  it("nothing listens at the management base → network on read_costs", async () => {
    const port = await closedPort();
    const result = await testAzureServicePrincipal(
      azureCtx(FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, {
        endpoints: { authority_host: fakes.authorityUrl, management_base: `https://127.0.0.1:${port}` },
      }),
    );
    expect(result.outcome).toBe("network");
    expect(result.checks.map((c) => c.outcome)).toEqual(["ok", "network"]);
  });

  it("an http: authority host is refused by the library (configuration error), nothing sent", async () => {
    const result = await testAzureServicePrincipal(
      azureCtx(FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, {
        endpoints: { authority_host: fakes.authorityUrl.replace("https:", "http:"), management_base: fakes.managementUrl },
      }),
    );
    expect(result.outcome).toBe("provider_error");
    expect(messageOf(result, "authenticate")).toMatch(/must be an https URL/);
    expect(fakes.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("azure_openai (service principal → /openai/v1/models)", () => {
  it("a working credential: token for the v1 scope over HTTPS, then the model list", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("ok");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["list_models", "ok"],
    ]);
    expect(result.account).toEqual({ id: FAKE_AZURE_TENANT_ID, name: "finops-fake-eastus.openai.azure.com" });
    expect(result.key_kind).toBe("client_secret");

    const [tokenReq, ...more] = tokenRequests();
    expect(more).toHaveLength(0);
    expect(tokenReq?.encrypted).toBe(true);
    expect(new URLSearchParams(tokenReq?.body).get("scope")).toBe(AZURE_OPENAI_SCOPE);
    const [models] = byService("openai");
    expect(models?.method).toBe("GET");
    expect(models?.path).toBe("/openai/v1/models");
    expect(models?.encrypted).toBe(true);
    const issued = fakes.tokens.at(-1);
    expect(issued?.audience).toBe("https://ai.azure.com");
    expect(models?.headers.authorization).toBe(`Bearer ${issued?.token}`);
    expectNoSecrets(result, FAKE_AZURE_APP.client_secret);
  });

  it("a tenant without the https://ai.azure.com principal (AADSTS500011) → falls back to the Cognitive Services scope", async () => {
    const tenant = fakeGuid("tenant-legacy-ai");
    const app = { tenant_id: tenant, client_id: fakeGuid("app/legacy-ai"), client_secret: fakeClientSecret("app/legacy-ai") };
    fakes.registerTenant(tenant, { aiAzureComResource: false });
    fakes.registerApp({ tenant, clientId: app.client_id, secret: app.client_secret, roles: { openaiUser: true } });
    const result = await testAzureOpenAI(aoaiCtx(app));
    expect(result.outcome).toBe("ok");
    expect(tokenRequests().map((r) => new URLSearchParams(r.body).get("scope"))).toEqual([AZURE_OPENAI_SCOPE, AZURE_OPENAI_FALLBACK_SCOPE]);
    expect(fakes.tokens.at(-1)?.audience).toBe("https://cognitiveservices.azure.com");
  });

  it("a resource that refuses the ai.azure.com audience (401) → retried once with the Cognitive Services token", async () => {
    fakes.setOpenAIAcceptedAudiences(["https://cognitiveservices.azure.com"]);
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("ok");
    expect(byService("openai")).toHaveLength(2);
    expect(tokenRequests().map((r) => new URLSearchParams(r.body).get("scope"))).toEqual([AZURE_OPENAI_SCOPE, AZURE_OPENAI_FALLBACK_SCOPE]);
  });

  it("a resource that refuses every token → auth_failed", async () => {
    fakes.setOpenAIAcceptedAudiences(["https://nothing.example"]);
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP));
    expect(result.outcome).toBe("auth_failed");
    expect(result.checks.map((c) => c.outcome)).toEqual(["ok", "auth_failed"]);
    expect(messageOf(result, "list_models")).toMatch(/rejected the service principal's token \(HTTP 401\)/);
    expectNoSecrets(result, FAKE_AZURE_APP.client_secret);
  });

  it("a wrong secret → auth_failed, the resource is never called", async () => {
    const result = await testAzureOpenAI(aoaiCtx({ ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_WRONG_SECRET }));
    expect(result.outcome).toBe("auth_failed");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "auth_failed"],
      ["list_models", "skipped"],
    ]);
    expect(byService("openai")).toHaveLength(0);
    expectNoSecrets(result, FAKE_AZURE_WRONG_SECRET);
  });

  it("an expired secret → expired", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_EXPIRED_SECRET));
    expect(result.outcome).toBe("expired");
  });

  it("no OpenAI role → permission_denied: assign Cognitive Services OpenAI User", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_NO_ROLES));
    expect(result.outcome).toBe("permission_denied");
    expect(result.checks.map((c) => c.outcome)).toEqual(["ok", "permission_denied"]);
    expect(messageOf(result, "list_models")).toMatch(/"Cognitive Services OpenAI User" role on the resource/);
    expect(messageOf(result, "list_models")).toMatch(/PermissionDenied/);
    expect(result.account?.name).toBe("finops-fake-eastus.openai.azure.com");
    expectNoSecrets(result, FAKE_AZURE_APP_NO_ROLES.client_secret);
  });

  it("no OpenAI role answered 401 PermissionDenied (as Azure OpenAI does) → permission_denied, not auth_failed, and no second token", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_NO_ROLES));
    expect(result.outcome).toBe("permission_denied");
    expect(messageOf(result, "list_models")).toMatch(/\(HTTP 401, PermissionDenied\).*"Cognitive Services OpenAI User"/);
    // The token was accepted (the principal lacks a role): no retry with the other audience.
    expect(tokenRequests().map((r) => new URLSearchParams(r.body).get("scope"))).toEqual([AZURE_OPENAI_SCOPE]);
    expect(byService("openai")).toHaveLength(1);
  });

  it("no OpenAI role answered 403 PermissionDenied → permission_denied too", async () => {
    fakes.setOpenAIPermissionDeniedStatus(403);
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_NO_ROLES));
    expect(result.outcome).toBe("permission_denied");
    expect(messageOf(result, "list_models")).toMatch(/\(HTTP 403, PermissionDenied\)/);
  });

  it("wrong endpoint or resource (404) → not_found", async () => {
    const result = await testAzureOpenAI(
      aoaiCtx(FAKE_AZURE_APP, FAKE_AZURE_OPENAI_ENDPOINT, {
        endpoints: { authority_host: fakes.authorityUrl, endpoint_override: `${fakes.openaiUrl}/not-a-resource` },
      }),
    );
    expect(result.outcome).toBe("not_found");
    expect(messageOf(result, "list_models")).toMatch(/wrong endpoint or resource/);
  });

  it("throttled → rate_limited with Retry-After 9", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_THROTTLED));
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(9);
  });

  it("503 → provider_error", async () => {
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_UNAVAILABLE));
    expect(result.outcome).toBe("provider_error");
  });

  it("the resource never answers (timeoutMs 300) → timeout", async () => {
    const started = Date.now();
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP_HANG, FAKE_AZURE_OPENAI_ENDPOINT, { timeoutMs: 300 }));
    expectDataPlaneTimeout(result, "list_models", "openai");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("nothing listens at the endpoint override → network", async () => {
    const port = await closedPort();
    const result = await testAzureOpenAI(
      aoaiCtx(FAKE_AZURE_APP, FAKE_AZURE_OPENAI_ENDPOINT, {
        endpoints: { authority_host: fakes.authorityUrl, endpoint_override: `https://127.0.0.1:${port}` },
      }),
    );
    expect(result.outcome).toBe("network");
  });

  it("an endpoint outside the Azure OpenAI hosts is refused before any request (invalid_format)", async () => {
    const bad = [
      "https://evil.example.com",
      "http://my-resource.openai.azure.com",
      "https://my-resource.openai.azure.com.evil.example.com",
      "https://user:pw@my-resource.openai.azure.com",
      "https://my-resource.openai.azure.com:8443",
      "https://my-resource.openai.azure.com/openai/v1",
      "https://127.0.0.1",
      "not a url",
    ];
    for (const endpoint of bad) {
      const ctx = aoaiCtx(FAKE_AZURE_APP, endpoint, { endpoints: { authority_host: fakes.authorityUrl, endpoint_override: "" } });
      let thrown: unknown;
      try {
        await testAzureOpenAI(ctx);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, endpoint).toBeInstanceOf(AppError);
      expect((thrown as AppError).code).toBe("invalid_format");
      expect((thrown as AppError).extra.fields?.endpoint).toMatch(/openai\.azure\.com/);
    }
    expect(fakes.requests).toHaveLength(0);
  });

  it("both resource host kinds pass the check; the override is the only way around it", async () => {
    const noOverride = { authority_host: fakes.authorityUrl, endpoint_override: "" };
    expect(azureOpenAIBase(aoaiCtx(FAKE_AZURE_APP, "https://my-resource.openai.azure.com/", { endpoints: noOverride }))).toEqual({
      base: "https://my-resource.openai.azure.com",
      resourceHost: "my-resource.openai.azure.com",
    });
    expect(azureOpenAIBase(aoaiCtx(FAKE_AZURE_APP, "https://finops-01.cognitiveservices.azure.com", { endpoints: noOverride })).base).toBe(
      "https://finops-01.cognitiveservices.azure.com",
    );
    // With the operator's override set, even a foreign credential endpoint goes to the override.
    const result = await testAzureOpenAI(aoaiCtx(FAKE_AZURE_APP, "https://evil.example.com"));
    expect(result.outcome).toBe("ok");
    expect(byService("openai")).toHaveLength(1);
    expect(result.account?.name).toBe("evil.example.com");
  });
});

// ---------------------------------------------------------------------------------------------

describe("pacing: the credential's MSAL requests spend the provider budget (docs/security.md, \"Pacing\")", () => {
  const paced = (provider: "azure" | "azure_openai") =>
    tinyBudget(provider, { AZURE_AUTHORITY_HOST: fakes.authorityUrl, AZURE_MANAGEMENT_BASE: fakes.managementUrl, AZURE_OPENAI_ENDPOINT_OVERRIDE: fakes.openaiUrl });

  /** Runs the test twice on a budget of one: the second is rate_limited and no fake saw anything more. */
  async function secondIsPaced(provider: "azure" | "azure_openai", credential: Record<string, unknown>, first: string) {
    const { provider: p, opts } = paced(provider);
    const one = await runConnectionTest(p, credential, opts);
    expect(one.outcome).toBe(first);
    const sent = fakes.requests.length;
    expect(tokenRequests()).toHaveLength(1);

    const two = await runConnectionTest(p, credential, opts);
    expect(two.outcome).toBe("rate_limited");
    expect(two.retry_after_s).toBeGreaterThan(0);
    expect(two.checks[0]).toMatchObject({ name: "authenticate", outcome: "rate_limited" });
    expect(fakes.requests.length).toBe(sent); // not the metadata, not the token, not the query
  }

  it("azure: token + Cost Management query, then nothing", async () => {
    await secondIsPaced("azure", { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID }, "ok");
  });

  it("azure with a wrong secret: the refused token request spends the unit, and the next one is never sent", async () => {
    await secondIsPaced("azure", { ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_WRONG_SECRET, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID }, "auth_failed");
    expect(byService("management")).toHaveLength(0);
  });

  it("azure_openai: token + model list, then nothing", async () => {
    await secondIsPaced("azure_openai", { ...FAKE_AZURE_APP, endpoint: FAKE_AZURE_OPENAI_ENDPOINT }, "ok");
  });

  it("a pipeline's authenticate() (the token) is paced the same way: rate_limited, nothing sent", async () => {
    const { provider: p, opts } = paced("azure");
    const credential = { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID };
    expect((await runAuthenticate(p, credential, opts)).kind).toBe("azure_access_token");
    const sent = fakes.requests.length;
    const e = await runAuthenticate(p, credential, opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe("rate_limited");
    expect((e as AppError).extra.retryAfterS).toBeGreaterThan(0);
    expect(fakes.requests.length).toBe(sent);
  });
});
