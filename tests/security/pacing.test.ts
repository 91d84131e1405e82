import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { startAzureFakes, type AzureFakes } from "../fakes/azure";
import { FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, FAKE_AZURE_WRONG_SECRET } from "../fakes/azure-keys";
import { loadTestCa } from "../fakes/tls";
import { createApiKey, createOrganization, rest, signUp } from "./support";

/**
 * "One tenant blocks another" (docs/security.md). Azure Cost Management allows about 4 queries per
 * minute per subscription (configs/system/providers.yml, rate_limits), and the connection test
 * paces itself to stay within it. A subscription id is no secret, so org A can send setups naming
 * org B's subscription. Those must neither spend org B's budget (the key includes the org) nor,
 * when they never reach Cost Management (a wrong secret fails at the token; a malformed field
 * fails the format check), spend anyone's.
 */
describe("connection-test pacing is per org and counts only calls that reach the provider", () => {
  let azure: AzureFakes;
  beforeAll(async () => {
    const p = inject("ports");
    azure = await startAzureFakes({ ca: loadTestCa(inject("caDir")), ports: { authority: p.azureAuthority, management: p.azureManagement, openai: p.azureOpenai } });
  });
  afterAll(async () => azure.close());

  it("four junk setups by org A naming B's subscription do not make org B's real setup 429, nor A's own", async () => {
    const alice = await signUp();
    const orgA = await createOrganization(alice);
    const keyA = await createApiKey(alice, orgA);
    const bob = await signUp();
    const orgB = await createOrganization(bob);
    const keyB = await createApiKey(bob, orgB);

    const managementCalls = () => azure.requests.filter((r) => r.service === "management").length;
    const before = managementCalls();
    const junk = { credential: { ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_WRONG_SECRET, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    for (let i = 0; i < 4; i++) {
      const r = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: junk });
      expect(r.status, r.text).toBe(422);
      expect(r.body.error.connection_test.outcome).toBe("auth_failed");
    }
    // Refused by the format check: never near Azure either.
    for (let i = 0; i < 4; i++) {
      const r = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: { credential: { ...junk.credential, client_secret: "" } } });
      expect(r.status, r.text).toBe(400);
    }
    expect(managementCalls()).toBe(before); // no Cost Management query was made for any of them

    const real = { credential: { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    const b = await rest("POST", `/integrations/${orgB}/azure/setup`, { key: keyB, body: real });
    expect(b.status, b.text).toBe(201);
    expect(b.body.status).toBe("active");
    const a = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: real });
    expect(a.status, a.text).toBe(201);
  });

  it("the pacing still holds within one org: the 5th real test in a minute is 429 without calling Azure", async () => {
    const carol = await signUp();
    const org = await createOrganization(carol);
    const key = await createApiKey(carol, org);
    const body = { credential: { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await rest("POST", `/integrations/${org}/azure/setup`, { key, body })).status);
    expect(statuses).toEqual([201, 200, 200, 200]);
    const before = azure.requests.filter((r) => r.service === "management").length;
    const fifth = await rest("POST", `/integrations/${org}/azure/setup`, { key, body });
    expect(fifth.status, fifth.text).toBe(429);
    expect(fifth.body.error.connection_test.outcome).toBe("rate_limited");
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(azure.requests.filter((r) => r.service === "management").length).toBe(before);
  });
});
