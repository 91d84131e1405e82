import { describe, expect, it } from "vitest";
import { callAction, createApiKey, createOrganization, rest, signUp } from "./support";

// The suite's own plumbing, performed as every attack does it: a real account, a real org, a real
// server action and the REST API with a key made in the UI.
describe("attack suite plumbing", () => {
  it("signs up, creates an org, calls a server action and REST with a key made in the UI", async () => {
    const owner = await signUp();
    const org = await createOrganization(owner);
    const mine = await callAction({ page: `/orgs/${org}/integrations`, file: "actions/integrations.ts", name: "validateIntegrationAction", args: [org, "openai"], cookie: owner.cookie });
    expect(mine.status).toBe(200);
    expect(mine.value).toMatchObject({ ok: false, error: { code: "integration_not_found" } });
    const key = await createApiKey(owner, org);
    const r = await rest("GET", `/integrations/${org}`, { key });
    expect(r.status).toBe(200);
    // Someone else's session sees nothing of it.
    const other = await signUp();
    const theirs = await callAction({ page: `/orgs/${org}/integrations`, file: "actions/integrations.ts", name: "validateIntegrationAction", args: [org, "openai"], cookie: other.cookie });
    expect(theirs.value).toMatchObject({ ok: false, error: { code: "org_not_found" } });
  });
});
