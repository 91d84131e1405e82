import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { startAzureFakes, type AzureFakes } from "../fakes/azure";
import { FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID, FAKE_AZURE_WRONG_SECRET } from "../fakes/azure-keys";
import { loadTestCa } from "../fakes/tls";
import { createApiKey, createOrganization, rest, signUp } from "./support";

/**
 * "One tenant blocks another" (docs/security.md). Azure Cost Management allows about 4 queries per
 * minute per subscription (configs/system/providers.yml, rate_limits), and the connection test
 * paces itself to stay within it. A subscription id is no secret, so org A can send setups naming
 * org B's subscription. Those must not spend org B's budget (the key includes the org). A setup
 * refused by the format check reaches no one and spends nothing; one that reaches Microsoft, even
 * only its token service through the SDK's own transport (a wrong secret), spends org A's own
 * budget, so a tenant cannot use that path to make the platform hammer the provider.
 */
describe("connection-test pacing is per org and counts every call that reaches the provider", () => {
  let azure: AzureFakes;
  beforeAll(async () => {
    const p = inject("ports");
    azure = await startAzureFakes({ ca: loadTestCa(inject("caDir")), ports: { authority: p.azureAuthority, management: p.azureManagement, openai: p.azureOpenai } });
  });
  afterAll(async () => azure.close());

  it("four junk setups by org A naming B's subscription do not make org B's real setup 429; they spend A's own budget", async () => {
    const alice = await signUp();
    const orgA = await createOrganization(alice);
    const keyA = await createApiKey(alice, orgA);
    const bob = await signUp();
    const orgB = await createOrganization(bob);
    const keyB = await createApiKey(bob, orgB);

    const managementCalls = () => azure.requests.filter((r) => r.service === "management").length;
    const tokenCalls = () => azure.requests.filter((r) => r.service === "token").length;
    const before = { management: managementCalls(), token: tokenCalls() };
    const junk = { credential: { ...FAKE_AZURE_APP, client_secret: FAKE_AZURE_WRONG_SECRET, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    for (let i = 0; i < 4; i++) {
      const r = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: junk });
      expect(r.status, r.text).toBe(422);
      expect(r.body.error.connection_test.outcome).toBe("auth_failed");
    }
    expect(tokenCalls()).toBeGreaterThan(before.token); // they reached Microsoft's token service
    // Refused by the format check: never near Azure, and free.
    const afterJunk = azure.requests.length;
    for (let i = 0; i < 4; i++) {
      const r = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: { credential: { ...junk.credential, client_secret: "" } } });
      expect(r.status, r.text).toBe(400);
    }
    expect(azure.requests.length).toBe(afterJunk);
    expect(managementCalls()).toBe(before.management); // no Cost Management query was made for any of them

    const real = { credential: { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    const b = await rest("POST", `/integrations/${orgB}/azure/setup`, { key: keyB, body: real });
    expect(b.status, b.text).toBe(201);
    expect(b.body.status).toBe("active");
    // A's four token-service calls spent A's four units: A's fifth is refused without any request.
    const sent = azure.requests.length;
    const a = await rest("POST", `/integrations/${orgA}/azure/setup`, { key: keyA, body: junk });
    expect(a.status, a.text).toBe(429);
    expect(a.body.error.connection_test.outcome).toBe("rate_limited");
    expect(azure.requests.length).toBe(sent);
  });

  it("the pacing still holds within one org: the 5th real test in a minute is 429 without any request to Azure", async () => {
    const carol = await signUp();
    const org = await createOrganization(carol);
    const key = await createApiKey(carol, org);
    const body = { credential: { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await rest("POST", `/integrations/${org}/azure/setup`, { key, body })).status);
    expect(statuses).toEqual([201, 200, 200, 200]);
    const before = azure.requests.length;
    const fifth = await rest("POST", `/integrations/${org}/azure/setup`, { key, body });
    expect(fifth.status, fifth.text).toBe(429);
    expect(fifth.body.error.connection_test.outcome).toBe("rate_limited");
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(azure.requests.length).toBe(before); // neither the query nor the token request left
  });
});
