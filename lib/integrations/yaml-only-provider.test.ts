import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCore, type TestCore } from "@/tests/support/core-deps";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_PROJECT_KEY } from "@/tests/fakes/keys";
import { POST as setupRoute } from "@/app/integrations/[org]/[provider]/setup/route";
import { getDeps, setDeps } from "../deps";
import { parseRegistry, REGISTRY_PATH } from "./registry";
import { authenticate } from "./authenticate";

/**
 * Adding a provider that speaks a protocol we already have is a registry change only: a test
 * registry = the shipped YAML plus one entry, no code. The new provider is then set up through the
 * real REST route handler (API key auth, format check generated from its fields, the protocol's
 * connection test against a fake, encryption, storage) and authenticated for a pipeline.
 */
const EXTRA = `
  - id: acme_gateway
    name: Acme AI Gateway
    category: genai
    credential_type: api_key
    credential_type_label: API Key
    description: An OpenAI-compatible gateway with the organization costs API.
    fields:
      - name: api_key
        label: Gateway admin key
        type: secret
        required: true
        secret: true
        pattern: '^sk-[A-Za-z0-9_-]{16,}$'
        message: must be a gateway key that starts with sk-
    metadata: []
    connection_test:
      kind: openai
      checks:
        - { name: authenticate, description: 'The key authenticates.' }
        - { name: read_costs, description: 'GET /v1/organization/costs for the last day.' }
    cost_permissions: [api.usage.read]
    docs: []
    rate_limits: { requests_per_minute: 60, retry_headers: [retry-after] }
    endpoints:
      api_base: { default: '__FAKE__' }
`;

let fake: OpenAIFake;
let core: TestCore;
let apiKey: string;
let previous: ReturnType<typeof getDeps> | undefined;

beforeAll(async () => {
  fake = await startOpenAIFake();
  const shipped = fs.readFileSync(REGISTRY_PATH, "utf8");
  // A function replacer: the entry's regexes contain "$'", which a replacement string would expand.
  const text = shipped.replace(/\nproviders:\n/, () => `\nproviders:${EXTRA.replace("__FAKE__", () => fake.url)}\n`);
  const registry = parseRegistry(text, "test registry");
  core = await makeCore({ overrides: { registry } });
  await core.addOrg("acme");
  apiKey = (await core.deps.auth.createApiKey("acme", "admin", "yaml-test", new Date(core.clock.t))).apiKey;
  try {
    previous = getDeps();
  } catch {
    previous = undefined;
  }
  setDeps(core.deps);
});

afterAll(async () => {
  setDeps(previous);
  await core?.close();
  await fake?.close();
});

async function post(provider: string, body: unknown) {
  const res = await setupRoute(
    new Request(`http://localhost/integrations/acme/${provider}/setup`, {
      method: "POST",
      headers: { "x-api-key": apiKey, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    { params: Promise.resolve({ org: "acme", provider }) },
  );
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("a provider added by YAML only", () => {
  it("is set up over REST with its protocol's connection test, and authenticated for pipelines", async () => {
    const r = await post("acme_gateway", { credential: { api_key: FAKE_OPENAI_ADMIN_KEY }, metadata: { label: "gateway" } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ provider: "acme_gateway", name: "Acme AI Gateway", status: "active", key_kind: "admin" });
    expect(r.body.connection_test.checks.map((c: { name: string; outcome: string }) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    // The fake saw the protocol's call, at the new provider's own endpoint, with the key.
    expect(fake.requests.at(-1)).toMatchObject({ pathname: "/v1/organization/costs", headers: { authorization: `Bearer ${FAKE_OPENAI_ADMIN_KEY}` } });
    expect(JSON.stringify(r.body)).not.toContain(FAKE_OPENAI_ADMIN_KEY);

    const a = await authenticate("acme", "acme_gateway", core.deps);
    expect(a).toMatchObject({ kind: "api_key", base_url: fake.url, api_key: FAKE_OPENAI_ADMIN_KEY });
  });

  it("gets its format check from its YAML fields and its verdicts from the protocol", async () => {
    const bad = await post("acme_gateway", { credential: { api_key: "not-a-key" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual({ "credential.api_key": "must be a gateway key that starts with sk-" });
    const denied = await post("acme_gateway", { credential: { api_key: FAKE_OPENAI_PROJECT_KEY } });
    expect(denied.status).toBe(422);
    expect(denied.body.error.connection_test.outcome).toBe("permission_denied");
  });
});
