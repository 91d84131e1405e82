import fs from "node:fs";
import path from "node:path";
import { describe, expect, it, inject, beforeAll } from "vitest";
import { api, uniqueOrg, type ApiResponse } from "../support/api";
import { controlFakes, createKey, createOrg } from "../support/stack";
import * as K from "../fakes/keys";
import { waitFor } from "../support/wait";

/**
 * The REST contract of docs/api.md, end to end: the built server, the CLI, the provider fakes.
 * Each describe makes its own org, so the files can share one server.
 */
const dataDir = () => inject("dataDir");

function newOrg(prefix: string) {
  const org = uniqueOrg(prefix);
  const key = createOrg(dataDir(), org);
  return { org, key, c: api(key) };
}

const openaiSetup = (apiKey: string, metadata?: unknown) => ({ credential: { api_key: apiKey }, ...(metadata ? { metadata } : {}) });

describe("service endpoints", () => {
  it("GET /healthz answers ok", async () => {
    const r = await api().get("/healthz");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok" });
  });

  it("GET /readyz checks the key service and the store", async () => {
    const r = await api().get("/readyz");
    expect(r.status).toBe(200);
    const gcp = inject("backends") === "gcp";
    expect(r.body.checks.kms).toMatchObject({ status: "ok", backend: gcp ? "gcp" : "local" });
    expect(r.body.checks.store).toMatchObject({ status: "ok", backend: gcp ? "bigquery" : "sqlite" });
    expect(r.body.checks.auth).toMatchObject({ status: "ok", backend: "sqlite" });
  });

  it("GET /providers lists all twelve providers with fields, secret flags and no auth", async () => {
    const r = await api().get("/providers");
    expect(r.status).toBe(200);
    const ids = r.body.providers.map((p: { id: string }) => p.id);
    expect(ids).toEqual(["gcp", "aws_iam", "aws_keys", "azure", "oci", "openai", "anthropic", "gemini", "azure_openai", "aws_bedrock", "gcp_vertex", "saas"]);
    const openai = r.body.providers.find((p: { id: string }) => p.id === "openai");
    expect(openai.fields.find((f: { name: string }) => f.name === "api_key")).toMatchObject({ secret: true, required: true });
    expect(openai.docs.length).toBeGreaterThan(0);
    expect(openai.rate_limits.requests_per_minute).toBeGreaterThan(0);
  });

  it("GET /openapi.json documents every route with the registry's credential schemas", async () => {
    const r = await api().get("/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    for (const p of [
      "/integrations/{org}/{provider}/setup",
      "/integrations/{org}/{provider}/validate",
      "/integrations/{org}",
      "/integrations/{org}/{provider}",
      "/integrations/{org}/{provider}/metadata",
    ]) {
      expect(r.body.paths[p], p).toBeDefined();
    }
    const cred = r.body.components.schemas.Credential_openai;
    expect(cred.properties.api_key).toBeDefined();
    expect(cred.additionalProperties).toBe(false);
    expect(r.body.components.schemas.Integration.properties.fingerprint).toBeDefined();
  });
});

describe("authentication and tenancy", () => {
  let a: ReturnType<typeof newOrg>;
  let b: ReturnType<typeof newOrg>;
  beforeAll(() => {
    a = newOrg("auth-a");
    b = newOrg("auth-b");
  });

  it("a missing key is 401 unauthenticated", async () => {
    const r = await api().get(`/integrations/${a.org}`);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("unauthenticated");
  });

  it("a malformed or unknown key is 401", async () => {
    for (const k of ["nope", `cmk_000000000000_${"A".repeat(43)}`]) {
      const r = await api(k).get(`/integrations/${a.org}`);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("unauthenticated");
    }
  });

  it("accepts the key as X-API-Key and as a Bearer token", async () => {
    expect((await a.c.get(`/integrations/${a.org}`)).status).toBe(200);
    expect((await api(a.key, { bearer: true }).get(`/integrations/${a.org}`)).status).toBe(200);
  });

  it("a key of org A on org B is 404 org_not_found, on every route", async () => {
    const calls = [
      a.c.get(`/integrations/${b.org}`),
      a.c.post(`/integrations/${b.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY)),
      a.c.post(`/integrations/${b.org}/openai/validate`),
      a.c.put(`/integrations/${b.org}/openai/metadata`, { metadata: { label: "x" } }),
      a.c.del(`/integrations/${b.org}/openai`),
    ];
    for (const r of await Promise.all(calls)) {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("org_not_found");
    }
    // An org that does not exist looks the same as one that does.
    const ghost = await a.c.get(`/integrations/no-such-org-anywhere`);
    expect(ghost.status).toBe(404);
    expect(ghost.body.error).toEqual({ ...ghost.body.error, code: "org_not_found" });
  });

  it("a viewer key can list but gets 403 forbidden on every mutating route", async () => {
    expect((await a.c.post(`/integrations/${a.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY))).status).toBe(201);
    const viewer = api(createKey(dataDir(), a.org, "viewer").api_key);
    const list = await viewer.get(`/integrations/${a.org}`);
    expect(list.status).toBe(200);
    expect(list.body.integrations).toHaveLength(1);
    const calls = [
      viewer.post(`/integrations/${a.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY)),
      viewer.post(`/integrations/${a.org}/openai/validate`),
      viewer.put(`/integrations/${a.org}/openai/metadata`, { metadata: { label: "x" } }),
      viewer.del(`/integrations/${a.org}/openai`),
    ];
    for (const r of await Promise.all(calls)) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
    expect((await a.c.get(`/integrations/${a.org}`)).body.integrations[0].version).toBe(1);
  });

  it("a revoked key stops working at once", async () => {
    const { api_key, key_id } = createKey(dataDir(), a.org, "admin");
    expect((await api(api_key).get(`/integrations/${a.org}`)).status).toBe(200);
    const { runCli } = await import("../support/stack");
    expect(runCli(dataDir(), ["keys", "revoke", a.org, key_id]).status).toBe(0);
    expect((await api(api_key).get(`/integrations/${a.org}`)).status).toBe(401);
  });

  it("an unknown provider is 404 unknown_provider", async () => {
    for (const p of ["nope", "saas_", "saas_x", "SAAS_ok"]) {
      const r = await a.c.post(`/integrations/${a.org}/${p}/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
      expect(r.status, p).toBe(404);
      expect(r.body.error.code).toBe("unknown_provider");
    }
  });
});

describe("OpenAI: setup, validate, list, metadata, delete", () => {
  let t: ReturnType<typeof newOrg>;
  beforeAll(() => {
    t = newOrg("openai");
  });

  it("sets up an admin key: 201, active, fingerprint, account, connection test", async () => {
    const r = await t.c.post(`/integrations/${t.org}/openai/setup`, {
      credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY, organization_id: K.FAKE_OPENAI_ORG_ID },
      metadata: { label: "prod org" },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      org: t.org,
      provider: "openai",
      category: "genai",
      credential_type: "api_key",
      status: "active",
      version: 1,
      key_kind: "admin",
      metadata: { label: "prod org" },
      last_error: null,
    });
    expect(r.body.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(r.body.connection_test.outcome).toBe("ok");
    expect(r.body.connection_test.checks.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(["authenticate", "read_costs"]));
    expect(r.text).not.toContain(K.FAKE_OPENAI_ADMIN_KEY);
    expect(r.headers.get("x-request-id")).toBeTruthy();
  });

  it("lists it without any secret", async () => {
    const r = await t.c.get(`/integrations/${t.org}`);
    expect(r.status).toBe(200);
    expect(r.body.org).toBe(t.org);
    expect(r.body.integrations).toHaveLength(1);
    expect(r.body.integrations[0]).toMatchObject({ provider: "openai", status: "active", metadata: { label: "prod org" } });
    expect(r.text).not.toContain(K.FAKE_OPENAI_ADMIN_KEY);
  });

  it("validates it: 200, active, last_validated_at set", async () => {
    const r = await t.c.post(`/integrations/${t.org}/openai/validate`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("active");
    expect(r.body.connection_test.outcome).toBe("ok");
    expect(Date.parse(r.body.last_validated_at)).toBeGreaterThan(0);
  });

  it("a project key is refused with 422 permission_denied naming the admin key, and the stored key stays", async () => {
    const before = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    const r = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_PROJECT_KEY));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("connection_test_failed");
    expect(r.body.error.connection_test.outcome).toBe("permission_denied");
    expect(r.body.error.message.toLowerCase()).toContain("admin key");
    const after = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    expect(after).toEqual(before);
  });

  it("a wrong key is 422 auth_failed; a timed-out, down or throttled provider is 504/502/429; nothing changes", async () => {
    const before = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    const cases: Array<[string, number, string, string]> = [
      [K.FAKE_OPENAI_INVALID_KEY, 422, "connection_test_failed", "auth_failed"],
      [K.FAKE_OPENAI_ADMIN_KEY_HANG, 504, "provider_timeout", "timeout"],
      [K.FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE, 502, "provider_unreachable", "provider_error"],
      [K.FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED, 429, "rate_limited", "rate_limited"],
      [K.FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE, 422, "connection_test_failed", "permission_denied"],
    ];
    for (const [key, status, code, outcome] of cases) {
      const r = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(key));
      expect(r.status, code).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.connection_test.outcome).toBe(outcome);
      // OpenAI's 401 "Missing scopes: api.usage.read" is a missing permission, named, not a revoked key.
      if (outcome === "permission_denied") expect(r.body.error.message).toContain("api.usage.read");
      if (status === 429) expect(Number(r.headers.get("retry-after"))).toBe(7);
      expect(r.text).not.toContain(key);
    }
    const after = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    expect(after).toEqual(before);
  });

  it("replacing with a working key is 200 and bumps the version; metadata carries over", async () => {
    const r = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(2);
    expect(r.body.metadata).toEqual({ label: "prod org" });
  });

  it("PUT metadata replaces the whole object and validates per provider", async () => {
    const ok = await t.c.put(`/integrations/${t.org}/openai/metadata`, {
      metadata: { label: "finance", tags: { team: "finops" }, project_ids: ["proj_abc12345"] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.metadata).toEqual({ label: "finance", tags: { team: "finops" }, project_ids: ["proj_abc12345"] });
    expect(ok.body.version).toBe(2);

    const bad = await t.c.put(`/integrations/${t.org}/openai/metadata`, { metadata: { label: "x".repeat(101), project_ids: ["nope"], unknown_key: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_metadata");
    expect(Object.keys(bad.body.error.fields)).toEqual(expect.arrayContaining(["metadata.label", "metadata.project_ids.0", "metadata.unknown_key"]));

    const tooManyTags = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`t${i}`, "v"]));
    const tags = await t.c.put(`/integrations/${t.org}/openai/metadata`, { metadata: { tags: tooManyTags } });
    expect(tags.status).toBe(400);
    expect(tags.body.error.fields["metadata.tags"]).toContain("20");

    const unchanged = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    expect(unchanged.metadata.label).toBe("finance");
  });

  it("DELETE removes it (204), then 404 integration_not_found everywhere", async () => {
    expect((await t.c.del(`/integrations/${t.org}/openai`)).status).toBe(204);
    expect((await t.c.get(`/integrations/${t.org}`)).body.integrations).toEqual([]);
    for (const r of await Promise.all([
      t.c.del(`/integrations/${t.org}/openai`),
      t.c.post(`/integrations/${t.org}/openai/validate`),
      t.c.put(`/integrations/${t.org}/openai/metadata`, { metadata: {} }),
    ])) {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("integration_not_found");
    }
  });
});

describe("request validation", () => {
  let t: ReturnType<typeof newOrg>;
  beforeAll(() => {
    t = newOrg("req");
  });
  const setup = (p: string) => `/integrations/${t.org}/${p}/setup`;

  it("a body that is not JSON is 400 invalid_request with a fixed message", async () => {
    const r = await t.c.postRaw(setup("openai"), '{"credential": {"api_key": "sk-admin-abc');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid_request", message: "The body is not valid JSON." });
  });

  it("unknown top-level or credential fields are 400 invalid_request naming them", async () => {
    const r1 = await t.c.post(setup("openai"), { ...openaiSetup(K.FAKE_OPENAI_ADMIN_KEY), extra: 1 });
    expect(r1.status).toBe(400);
    expect(r1.body.error.code).toBe("invalid_request");
    expect(r1.body.error.fields).toHaveProperty("extra");
    const r2 = await t.c.post(setup("openai"), { credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY, apikey: "x" } });
    expect(r2.status).toBe(400);
    expect(r2.body.error.code).toBe("invalid_request");
    expect(r2.body.error.fields).toHaveProperty(["credential.apikey"]);
  });

  it("fields that break the registry's rules are 400 invalid_format with the field and the reason", async () => {
    const cases: Array<[string, unknown, string]> = [
      ["openai", { api_key: "not-a-key" }, "credential.api_key"],
      ["openai", {}, "credential.api_key"],
      ["openai", { api_key: 12345 }, "credential.api_key"],
      ["anthropic", { api_key: `sk-ant-oat01-${"a".repeat(40)}` }, "credential.api_key"],
      ["gemini", { api_key: "AIzaTooShort" }, "credential.api_key"],
      ["gcp", { service_account_json: '{"type": "authorized_user"' }, "credential.service_account_json"],
      ["gcp", { service_account_json: { type: "authorized_user" } }, "credential.service_account_json"],
      ["aws_keys", { access_key_id: "ASIAABCDEFGHIJKLMNOP", secret_access_key: "x".repeat(40) }, "credential.session_token"],
      ["aws_iam", { role_arn: "arn:aws:iam::12345:role/x" }, "credential.role_arn"],
      ["azure", { tenant_id: "t", client_id: "nope", client_secret: "s3cr3t", subscription_id: "nope" }, "credential.client_id"],
      ["azure_openai", { tenant_id: "t", client_id: "00000000-0000-0000-0000-000000000000", client_secret: "abc", endpoint: "https://evil.example.com" }, "credential.endpoint"],
      ["saas_datadog", { display_name: "Datadog", base_url: "http://insecure.example.com" }, "credential.base_url"],
    ];
    for (const [provider, credential, field] of cases) {
      const r = await t.c.post(setup(provider), { credential });
      expect(r.status, `${provider} ${field}`).toBe(400);
      expect(r.body.error.code, `${provider} ${field}`).toBe("invalid_format");
      expect(Object.keys(r.body.error.fields), `${provider}`).toContain(field);
      expect(r.body.error.fields[field].length).toBeGreaterThan(5);
    }
  });

  it("bad metadata on setup is 400 invalid_metadata and stores nothing", async () => {
    const r = await t.c.post(setup("openai"), openaiSetup(K.FAKE_OPENAI_ADMIN_KEY, { label: 5 }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_metadata");
    expect(r.body.error.fields).toHaveProperty(["metadata.label"]);
    expect((await t.c.get(`/integrations/${t.org}`)).body.integrations).toEqual([]);
  });

  it("a body over 64 KiB is 413 payload_too_large", async () => {
    const r = await t.c.post(setup("openai"), { credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY }, metadata: { label: "x".repeat(70 * 1024) } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
  });
});

describe("Anthropic, Gemini and manual SaaS", () => {
  let t: ReturnType<typeof newOrg>;
  beforeAll(() => {
    t = newOrg("genai");
  });

  it("Anthropic: admin key active with the organization as account; workspace key 422 naming the admin key", async () => {
    const ok = await t.c.post(`/integrations/${t.org}/anthropic/setup`, { credential: { api_key: K.FAKE_ANTHROPIC_ADMIN_KEY } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "admin", account: { id: K.FAKE_ANTHROPIC_ORG.id, name: K.FAKE_ANTHROPIC_ORG.name } });
    const ws = await t.c.post(`/integrations/${t.org}/anthropic/setup`, { credential: { api_key: K.FAKE_ANTHROPIC_API_KEY } });
    expect(ws.status).toBe(422);
    expect(ws.body.error.connection_test.outcome).toBe("permission_denied");
    expect(ws.body.error.message).toMatch(/admin/i);
    const bad = await t.c.post(`/integrations/${t.org}/anthropic/setup`, { credential: { api_key: K.FAKE_ANTHROPIC_INVALID_KEY } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.connection_test.outcome).toBe("auth_failed");
    const v = await t.c.post(`/integrations/${t.org}/anthropic/validate`);
    expect(v.status).toBe(200);
    expect(v.body.version).toBe(1);
    const m = await t.c.put(`/integrations/${t.org}/anthropic/metadata`, { metadata: { workspace_ids: ["wrkspc_01abcdefgh"] } });
    expect(m.status).toBe(200);
    expect((await t.c.del(`/integrations/${t.org}/anthropic`)).status).toBe(204);
  });

  it("Gemini: an auth key is active; a bad key (Google's 400 API_KEY_INVALID) is 422 auth_failed", async () => {
    const ok = await t.c.post(`/integrations/${t.org}/gemini/setup`, { credential: { api_key: K.FAKE_GEMINI_KEY }, metadata: { gcp_project_id: "my-project-1" } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "auth" });
    const bad = await t.c.post(`/integrations/${t.org}/gemini/setup`, { credential: { api_key: K.FAKE_GEMINI_INVALID_KEY } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.connection_test.outcome).toBe("auth_failed");
    const expired = await t.c.post(`/integrations/${t.org}/gemini/setup`, { credential: { api_key: K.FAKE_GEMINI_KEY_EXPIRED } });
    expect(expired.status).toBe(422);
    expect(expired.body.error.connection_test.outcome).toBe("expired");
    expect((await t.c.post(`/integrations/${t.org}/gemini/validate`)).body.status).toBe("active");
    expect((await t.c.get(`/integrations/${t.org}`)).body.integrations.find((i: { provider: string }) => i.provider === "gemini").version).toBe(1);
    expect((await t.c.del(`/integrations/${t.org}/gemini`)).status).toBe(204);
  });

  it("a legacy Gemini key is accepted with a warning about the 2026 cut-off", async () => {
    const r = await t.c.post(`/integrations/${t.org}/gemini/setup`, { credential: { api_key: K.FAKE_GEMINI_LEGACY_KEY } });
    expect(r.status).toBe(201);
    expect(r.body.key_kind).toBe("standard");
    expect(r.body.warnings?.["api_key"]).toMatch(/standard/);
    expect((await t.c.del(`/integrations/${t.org}/gemini`)).status).toBe(204);
  });

  it("manual SaaS: any vendor by name, outcome skipped, one integration per vendor", async () => {
    const r = await t.c.post(`/integrations/${t.org}/saas_datadog/setup`, {
      credential: { display_name: "Datadog", api_key: "dd-secret-value-123", base_url: "https://api.datadoghq.com" },
      metadata: { currency: "USD", monthly_amount: "1250.00" },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ provider: "saas_datadog", category: "saas", credential_type: "manual", status: "active" });
    expect(r.body.connection_test.outcome).toBe("skipped");
    const again = await t.c.post(`/integrations/${t.org}/saas_datadog/setup`, { credential: { display_name: "Datadog EU" } });
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(2);
    const other = await t.c.post(`/integrations/${t.org}/saas_snowflake/setup`, { credential: { display_name: "Snowflake" } });
    expect(other.status).toBe(201);
    const list = await t.c.get(`/integrations/${t.org}`);
    expect(list.body.integrations.map((i: { provider: string }) => i.provider).sort()).toEqual(["saas_datadog", "saas_snowflake"]);
    expect(list.text).not.toContain("dd-secret-value-123");
    const bad = await t.c.put(`/integrations/${t.org}/saas_datadog/metadata`, { metadata: { currency: "dollars" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toHaveProperty(["metadata.currency"]);
    expect((await t.c.post(`/integrations/${t.org}/saas_datadog/validate`)).status).toBe(200);
    expect((await t.c.del(`/integrations/${t.org}/saas_datadog`)).status).toBe(204);
  });
});

describe("failures half way leave the stored credential intact", () => {
  /** Break the configured key service: the local key ring file, or the Cloud KMS fake. */
  async function breakKms(): Promise<() => Promise<void>> {
    if (inject("backends") === "gcp") {
      await controlFakes(inject("ports").control, "/kms/inject", { kind: "unavailable", times: 1000 });
      return async () => void (await controlFakes(inject("ports").control, "/clear"));
    }
    const ring = path.join(dataDir(), "keyring.json");
    const saved = fs.readFileSync(ring);
    fs.writeFileSync(ring, "{ broken", { mode: 0o600 });
    return async () => fs.writeFileSync(ring, saved, { mode: 0o600 });
  }

  it("the key service failing during a replacement is 503 encryption_unavailable; the old credential still works", async () => {
    const t = newOrg("kms-down");
    const first = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
    expect(first.status).toBe(201);
    const restore = await breakKms();
    try {
      const r = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe("encryption_unavailable");
      // /readyz serves one probe for up to 5 s (lib/readiness.ts): wait for a fresh one.
      const ready = await waitFor(async () => {
        const r = await api().get("/readyz");
        return r.status !== 200 && r;
      }, "/readyz to probe the broken key service", 30_000);
      expect(ready.status).toBe(503);
      expect(ready.body.checks.kms.status).toBe("failing");
      expect(ready.body.checks.store.status).toBe("ok");
    } finally {
      await restore();
    }
    const after = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    expect(after).toMatchObject({ version: 1, fingerprint: first.body.fingerprint, status: "active" });
    expect((await t.c.post(`/integrations/${t.org}/openai/validate`)).status).toBe(200);
  });

  it.skipIf(inject("backends") !== "gcp")(
    "the store failing during a replacement is 503 storage_unavailable; the old credential is intact (BigQuery fake; SQLite: see core.test.ts)",
    async () => {
      const t = newOrg("store-down");
      const first = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
      expect(first.status).toBe(201);
      await controlFakes(inject("ports").control, "/bigquery/inject", { fault: "unavailable", times: 1000, target: "dml" });
      try {
        const r = await t.c.post(`/integrations/${t.org}/openai/setup`, openaiSetup(K.FAKE_OPENAI_ADMIN_KEY));
        expect(r.status).toBe(503);
        expect(r.body.error.code).toBe("storage_unavailable");
      } finally {
        await controlFakes(inject("ports").control, "/clear");
      }
      const after = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
      expect(after).toMatchObject({ version: 1, fingerprint: first.body.fingerprint, status: "active" });
    },
  );

  it("concurrent replacements: one wins per version, the rest are 409 conflict or later versions; nothing is lost", async () => {
    const t = newOrg("race");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => t.c.post(`/integrations/${t.org}/saas_race/setup`, { credential: { display_name: "Race" } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe("conflict");
    const final = (await t.c.get(`/integrations/${t.org}`)).body.integrations[0];
    expect(final.version).toBe(statuses.filter((s) => s === 201 || s === 200).length);
  });
});

describe("org rate limit on setup and validate", () => {
  it("past the per-minute budget an org gets 429 rate_limited with Retry-After, other orgs do not", async () => {
    const t = newOrg("ratelimit");
    const other = newOrg("ratelimit-other");
    expect((await t.c.post(`/integrations/${t.org}/saas_acme/setup`, { credential: { display_name: "Acme" } })).status).toBe(201);
    let limited: ApiResponse | null = null;
    for (let i = 0; i < 60 && !limited; i++) {
      const r = await t.c.post(`/integrations/${t.org}/saas_acme/validate`);
      if (r.status === 429) limited = r;
      else expect(r.status).toBe(200);
    }
    expect(limited).not.toBeNull();
    expect(limited!.body.error.code).toBe("rate_limited");
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await other.c.post(`/integrations/${other.org}/saas_acme/setup`, { credential: { display_name: "Acme" } })).status).toBe(201);
  });
});
