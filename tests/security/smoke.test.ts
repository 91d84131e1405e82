import { describe, expect, it } from "vitest";
import { callAction, createApiKey, createOrganization, rest, signUp } from "./support";

// The suite's own plumbing, performed as every attack does it: a real account, a real org, a real
// server action and the REST API with a key made in the UI.
describe("attack suite plumbing", () => {
  it("signs up, creates an org, calls a server action and REST with a key made in the UI", async () => {
    const owner = await signUp();
    const org = await createOrganization(owner);
    const list = await callAction({ page: `/orgs/${org}/integrations`, file: "actions/integrations.ts", name: "listIntegrationsAction", args: [org], cookie: owner.cookie });
    expect(list.status).toBe(200);
    expect(list.value).toMatchObject({ ok: true });
    const key = await createApiKey(owner, org);
    const r = await rest("GET", `/integrations/${org}`, { key });
    expect(r.status).toBe(200);
    // Someone else's session sees nothing of it.
    const other = await signUp();
    const theirs = await callAction({ page: `/orgs/${org}/integrations`, file: "actions/integrations.ts", name: "listIntegrationsAction", args: [org], cookie: other.cookie });
    expect(theirs.value).toMatchObject({ ok: false, error: { code: "not_found" } });
  });
});
