import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { createOrg } from "../support/stack";
import { startAzureFakes, type AzureFakes } from "../fakes/azure";
import { loadTestCa } from "../fakes/tls";
import {
  FAKE_AZURE_APP,
  FAKE_AZURE_APP_EXPIRED_SECRET,
  FAKE_AZURE_APP_NO_ROLES,
  FAKE_AZURE_OPENAI_ENDPOINT,
  FAKE_AZURE_SUBSCRIPTION_ID,
  FAKE_AZURE_WRONG_SECRET,
} from "../fakes/azure-keys";

/**
 * Azure and Azure OpenAI over REST. The token service is HTTPS with a throwaway CA the server
 * trusts through NODE_EXTRA_CA_CERTS (MSAL refuses http authorities).
 */
describe("Azure", () => {
  let azure: AzureFakes;
  beforeAll(async () => {
    const p = inject("ports");
    azure = await startAzureFakes({ ca: loadTestCa(inject("caDir")), ports: { authority: p.azureAuthority, management: p.azureManagement, openai: p.azureOpenai } });
  });
  afterAll(async () => azure.close());

  it("a service principal with Cost Management Reader sets up active; a wrong or expired secret, or no role, is 422 with what to fix", async () => {
    const org = uniqueOrg("azure");
    const c = api(createOrg(inject("dataDir"), org));
    const sp = (app: typeof FAKE_AZURE_APP, secret?: string) => ({
      credential: { ...app, ...(secret ? { client_secret: secret } : {}), subscription_id: FAKE_AZURE_SUBSCRIPTION_ID },
    });
    const ok = await c.post(`/integrations/${org}/azure/setup`, sp(FAKE_AZURE_APP));
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "client_secret" });
    expect(azure.requests.some((r) => r.service === "token" && r.encrypted)).toBe(true);

    const wrong = await c.post(`/integrations/${org}/azure/setup`, sp(FAKE_AZURE_APP, FAKE_AZURE_WRONG_SECRET));
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.connection_test.outcome).toBe("auth_failed");
    expect(wrong.body.error.message).toMatch(/secret/i);

    const expired = await c.post(`/integrations/${org}/azure/setup`, sp(FAKE_AZURE_APP_EXPIRED_SECRET));
    expect(expired.status).toBe(422);
    expect(expired.body.error.connection_test.outcome).toBe("expired");

    const noRole = await c.post(`/integrations/${org}/azure/setup`, sp(FAKE_AZURE_APP_NO_ROLES));
    expect(noRole.status).toBe(422);
    expect(noRole.body.error.connection_test.outcome).toBe("permission_denied");
    expect(noRole.body.error.message).toContain("Cost Management Reader");

    for (const r of [ok, wrong, expired, noRole]) expect(r.text).not.toContain(FAKE_AZURE_APP.client_secret);
    expect((await c.get(`/integrations/${org}`)).body.integrations[0]).toMatchObject({ version: 1, fingerprint: ok.body.fingerprint });
  });

  it("Azure OpenAI lists models through the override endpoint; an endpoint outside Azure's hosts is refused at format check", async () => {
    const org = uniqueOrg("azure-openai");
    const c = api(createOrg(inject("dataDir"), org));
    const ok = await c.post(`/integrations/${org}/azure_openai/setup`, { credential: { ...FAKE_AZURE_APP, endpoint: FAKE_AZURE_OPENAI_ENDPOINT } });
    expect(ok.status, ok.text).toBe(201);
    const evil = await c.post(`/integrations/${org}/azure_openai/setup`, { credential: { ...FAKE_AZURE_APP, endpoint: "https://attacker.example.com" } });
    expect(evil.status).toBe(400);
    expect(evil.body.error.fields).toHaveProperty(["credential.endpoint"]);
    // No "Cognitive Services OpenAI User": Azure OpenAI answers 401 PermissionDenied, which is the role, not the secret.
    const noRole = await c.post(`/integrations/${org}/azure_openai/setup`, { credential: { ...FAKE_AZURE_APP_NO_ROLES, endpoint: FAKE_AZURE_OPENAI_ENDPOINT } });
    expect(noRole.status).toBe(422);
    expect(noRole.body.error.connection_test.outcome).toBe("permission_denied");
    expect(noRole.body.error.message).toContain("Cognitive Services OpenAI User");
    expect(noRole.text).not.toContain(FAKE_AZURE_APP_NO_ROLES.client_secret);
  });

  it("Azure Cost Management's few queries per minute per subscription are respected: the 5th test in a minute is 429 without calling Azure", async () => {
    const org = uniqueOrg("azure-rate");
    const c = api(createOrg(inject("dataDir"), org));
    const body = { credential: { ...FAKE_AZURE_APP, subscription_id: "0b7a2a7e-1c1d-4a4f-9d2b-5e5f6a7b8c9d" } };
    const before = azure.requests.filter((r) => r.service === "management").length;
    const statuses: number[] = [];
    let limited: { status: number; headers: Headers; body: any } | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await c.post(`/integrations/${org}/azure/setup`, body);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(limited, statuses.join(",")).not.toBeNull();
    expect(limited!.body.error.connection_test.outcome).toBe("rate_limited");
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);
    const calls = azure.requests.filter((r) => r.service === "management").length - before;
    expect(calls).toBeLessThanOrEqual(4);
  });
});
