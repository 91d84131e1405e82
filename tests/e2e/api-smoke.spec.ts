import { test, expect } from "./fixtures";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";

test("an org made with the CLI connects OpenAI over REST, and a viewer key can read it", async ({ request, org }) => {
  const admin = { "x-api-key": org.adminKey };
  const setup = await request.post(`/integrations/${org.slug}/openai/setup`, {
    headers: admin,
    data: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY }, metadata: { label: "smoke" } },
  });
  expect(setup.status()).toBe(201);
  const body = await setup.json();
  expect(body).toMatchObject({ provider: "openai", status: "active", version: 1 });
  expect(body.fingerprint).toMatch(/^[0-9a-f]{8}$/);
  expect(await setup.text()).not.toContain(FAKE_OPENAI_ADMIN_KEY);

  const viewer = { authorization: `Bearer ${org.viewerKey()}` };
  const list = await request.get(`/integrations/${org.slug}`, { headers: viewer });
  expect(list.status()).toBe(200);
  expect((await list.json()).integrations[0]).toMatchObject({ provider: "openai", fingerprint: body.fingerprint, metadata: { label: "smoke" } });
  const denied = await request.delete(`/integrations/${org.slug}/openai`, { headers: viewer });
  expect(denied.status()).toBe(403);

  expect((await request.post(`/integrations/${org.slug}/openai/validate`, { headers: admin })).status()).toBe(200);
  expect((await request.delete(`/integrations/${org.slug}/openai`, { headers: admin })).status()).toBe(204);
});

test("health, readiness, providers and the OpenAPI document answer without a key", async ({ request }) => {
  expect((await request.get("/healthz")).status()).toBe(200);
  expect((await request.get("/readyz")).status()).toBe(200);
  expect((await (await request.get("/providers")).json()).providers).toHaveLength(12);
  expect((await (await request.get("/openapi.json")).json()).openapi).toBe("3.1.0");
});
