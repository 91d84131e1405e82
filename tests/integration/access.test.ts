import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { runCliAsync } from "../support/stack";
import { startAwsFake, type AwsFake } from "../fakes/aws";
import { startGcpFake, type GcpFake } from "../fakes/gcp";
import { makeServiceAccountKey } from "../fakes/gcp-keys";
import { startAzureFakes, type AzureFakes } from "../fakes/azure";
import { FAKE_AZURE_APP, FAKE_AZURE_SUBSCRIPTION_ID } from "../fakes/azure-keys";
import { loadTestCa } from "../fakes/tls";
import { FAKE_AWS_KEYS, FAKE_AWS_ROLE_ARN } from "../fakes/aws-keys";
import { FAKE_ANTHROPIC_ADMIN_KEY, FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { waitFor } from "../support/wait";

/**
 * `POST /integrations/{org}/{provider}/access` over REST (docs/security.md, "Pipeline access"):
 * only a `pipeline` key answers it, a pipeline key answers nothing else, only an active credential
 * is handed out, short-lived credentials where the provider has them, a budget per key.
 */
describe("pipeline access", () => {
  let aws: AwsFake;
  let gcp: GcpFake;
  let azure: AzureFakes;
  beforeAll(async () => {
    const p = inject("ports");
    aws = await startAwsFake({ port: p.aws });
    gcp = await startGcpFake({ port: p.gcp });
    azure = await startAzureFakes({ ca: loadTestCa(inject("caDir")), ports: { authority: p.azureAuthority, management: p.azureManagement, openai: p.azureOpenai } });
  });
  afterAll(async () => Promise.all([aws.close(), gcp.close(), azure.close()]));

  // The CLI runs without blocking this process: a blocked event loop misses the server closing an
  // idle keep-alive socket, and the next request on it fails with "other side closed".
  async function cli(args: string[]) {
    const r = await runCliAsync(inject("dataDir"), args);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }
  async function newOrg(prefix: string) {
    const org = uniqueOrg(prefix);
    const admin = (JSON.parse(await cli(["orgs", "create", org, "--json"])) as { api_key: string }).api_key;
    return { org, admin };
  }
  async function newKey(org: string, role: string, label = "k") {
    return JSON.parse(await cli(["keys", "create", org, "--role", role, "--label", label, "--json"])) as { api_key: string; key_id: string; role: string };
  }
  async function orgWithKeys(prefix: string) {
    const { org, admin } = await newOrg(prefix);
    const made = await newKey(org, "pipeline", "cost pipeline");
    expect(made.role).toBe("pipeline");
    return { org, admin, pipeline: made.api_key, pipelineId: made.key_id, viewer: (await newKey(org, "viewer")).api_key };
  }

  it("a pipeline key gets the stored GenAI key (expires_at null) with the integration's fingerprint and version; admin and viewer keys get 403", async () => {
    const { org, admin, pipeline, viewer } = await orgWithKeys("acc-openai");
    const a = api(admin);
    const setup = await a.post(`/integrations/${org}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } });
    expect(setup.status, setup.text).toBe(201);

    const r = await api(pipeline).post(`/integrations/${org}/openai/access`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      org,
      provider: "openai",
      fingerprint: setup.body.fingerprint,
      version: 1,
      kind: "api_key",
      credentials: expect.objectContaining({ api_key: FAKE_OPENAI_ADMIN_KEY, headers: expect.objectContaining({ authorization: `Bearer ${FAKE_OPENAI_ADMIN_KEY}` }) }),
      expires_at: null,
    });
    expect(r.headers.get("cache-control")).toBe("no-store");
    // Bearer works too, like every route.
    expect((await api(pipeline, { bearer: true }).post(`/integrations/${org}/openai/access`)).status).toBe(200);

    for (const key of [admin, viewer]) {
      const denied = await api(key).post(`/integrations/${org}/openai/access`);
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe("forbidden");
      expect(denied.text).not.toContain(FAKE_OPENAI_ADMIN_KEY);
    }
    expect((await api().post(`/integrations/${org}/openai/access`)).status).toBe(401);

    // A replacement is served at its new version at once (the cache is keyed by version).
    const again = await a.post(`/integrations/${org}/anthropic/setup`, { credential: { api_key: FAKE_ANTHROPIC_ADMIN_KEY } });
    expect(again.status, again.text).toBe(201);
    const an = await api(pipeline).post(`/integrations/${org}/anthropic/access`);
    expect(an.body).toMatchObject({ kind: "api_key", credentials: { api_key: FAKE_ANTHROPIC_ADMIN_KEY }, expires_at: null });
  });

  it("a pipeline key is refused (403) on every other route, of its own org; another org's access is 404", async () => {
    const { org, admin, pipeline } = await orgWithKeys("acc-only");
    expect((await api(admin).post(`/integrations/${org}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    const p = api(pipeline);
    const attempts = [
      () => p.get(`/integrations/${org}`),
      () => p.post(`/integrations/${org}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } }),
      () => p.post(`/integrations/${org}/openai/validate`),
      () => p.put(`/integrations/${org}/openai/metadata`, { metadata: { label: "x" } }),
      () => p.del(`/integrations/${org}/openai`),
      () => p.get(`/integrations/${org}/openai/setup-info`),
      () => p.get(`/integrations/${org}/audit`),
      () => p.get(`/integrations/${org}/webhooks`),
      () => p.post(`/integrations/${org}/webhooks`, { url: "https://example.com/hook", events: ["integration.deleted"] }),
      () => p.del(`/integrations/${org}/webhooks/wh_x`),
    ];
    for (const attempt of attempts) {
      const r = await attempt();
      // Routes another helper has not mounted yet answer 404 from Next; every mounted one must be 403.
      if (r.status === 404 && !r.body?.error) continue;
      expect(r.status, r.text).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
    // Nothing changed: the integration is still there, untouched.
    const list = await api(admin).get(`/integrations/${org}`);
    expect(list.body.integrations).toEqual([expect.objectContaining({ provider: "openai", status: "active", version: 1 })]);

    const { org: other, admin: otherAdmin } = await newOrg("acc-other");
    expect((await api(otherAdmin).post(`/integrations/${other}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    const cross = await p.post(`/integrations/${other}/openai/access`);
    expect(cross.status).toBe(404);
    expect(cross.body.error.code).toBe("org_not_found");
    expect(cross.text).not.toContain(FAKE_OPENAI_ADMIN_KEY);
  });

  it("404 integration_not_found unless active: not connected, invalid after a verdict, deleted; unknown provider 404", async () => {
    const { org, admin, pipeline } = await orgWithKeys("acc-active");
    const a = api(admin);
    const p = api(pipeline);
    const none = await p.post(`/integrations/${org}/openai/access`);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe("integration_not_found");
    expect((await p.post(`/integrations/${org}/nope/access`)).body.error.code).toBe("unknown_provider");

    const externalId = (await a.get(`/integrations/${org}/aws_iam/setup-info`)).body.aws.external_id as string;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true });
    expect((await a.post(`/integrations/${org}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN } })).status).toBe(201);
    const ok = await p.post(`/integrations/${org}/aws_iam/access`);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.kind).toBe("aws");
    expect(ok.body.credentials).toMatchObject({ access_key_id: expect.stringMatching(/^ASIA/), session_token: expect.any(String), region: "us-east-1" });
    expect(aws.assumeRoleCalls.at(-1)).toMatchObject({ externalId, result: "ok" });
    const expires = Date.parse(ok.body.expires_at);
    expect(expires).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 61 * 60_000);

    // The customer withdraws the trust; validate gets AccessDenied (a verdict) → invalid → no access.
    aws.trustRole(FAKE_AWS_ROLE_ARN, "cm-someone-else-entirely-0000", { ce: true });
    const v = await a.post(`/integrations/${org}/aws_iam/validate`);
    expect(v.body.status).toBe("invalid");
    const inv = await p.post(`/integrations/${org}/aws_iam/access`);
    expect(inv.status).toBe(404);
    expect(inv.body.error.code).toBe("integration_not_found");
    expect(inv.text).not.toContain(ok.body.credentials.secret_access_key);

    expect((await a.post(`/integrations/${org}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    expect((await p.post(`/integrations/${org}/openai/access`)).status).toBe(200);
    expect((await a.del(`/integrations/${org}/openai`)).status).toBe(204);
    const gone = await p.post(`/integrations/${org}/openai/access`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("integration_not_found");
  });

  it("aws_keys: the pipeline gets GetSessionToken credentials (1 h), never the long-term key; repeated calls are served from the cache", async () => {
    const { org, admin, pipeline } = await orgWithKeys("acc-awskeys");
    const setup = await api(admin).post(`/integrations/${org}/aws_keys/setup`, {
      credential: { access_key_id: FAKE_AWS_KEYS.accessKeyId, secret_access_key: FAKE_AWS_KEYS.secretAccessKey },
    });
    expect(setup.status, setup.text).toBe(201);
    const before = aws.sessionTokenCalls.length;
    const r = await api(pipeline).post(`/integrations/${org}/aws_keys/access`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.kind).toBe("aws");
    expect(r.body.credentials.access_key_id).toMatch(/^ASIA/);
    expect(r.body.credentials.session_token).toBeTruthy();
    expect(r.text).not.toContain(FAKE_AWS_KEYS.secretAccessKey);
    expect(r.text).not.toContain(FAKE_AWS_KEYS.accessKeyId);
    expect(aws.sessionTokenCalls.length).toBe(before + 1);
    expect(aws.sessionTokenCalls.at(-1)).toEqual({ callerAccessKeyId: FAKE_AWS_KEYS.accessKeyId });
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now() + 50 * 60_000);
    // The issued credentials work at AWS (the fake accepts exactly what it issued).
    expect(aws.issued.some((i) => i.accessKeyId === r.body.credentials.access_key_id && i.secretAccessKey === r.body.credentials.secret_access_key)).toBe(true);

    const again = await api(pipeline).post(`/integrations/${org}/aws_keys/access`);
    expect(again.body.credentials).toEqual(r.body.credentials);
    expect(aws.sessionTokenCalls.length).toBe(before + 1);
  });

  it("gcp: a Google access token (never the key file) with its expiry; every call is in the audit trail with the key, the fingerprint and the outcome", async () => {
    const { org, admin, pipeline, pipelineId } = await orgWithKeys("acc-gcp");
    const sa = makeServiceAccountKey({ projectId: "finops-access-1", tokenUri: "http://127.0.0.1:9/never-called" });
    gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: "finops-access-1", permissions: ["bigquery.jobs.create"] });
    const setup = await api(admin).post(`/integrations/${org}/gcp/setup`, { credential: { service_account_json: sa.keyFile } });
    expect(setup.status, setup.text).toBe(201);
    const r = await api(pipeline).post(`/integrations/${org}/gcp/access`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ kind: "google_access_token", fingerprint: setup.body.fingerprint, credentials: { project_id: "finops-access-1" } });
    expect(typeof r.body.credentials.access_token).toBe("string");
    expect(r.body.credentials.access_token.length).toBeGreaterThan(10);
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now());
    expect(r.text).not.toContain("PRIVATE KEY");
    expect(r.text).not.toContain(sa.keyFile.private_key_id);

    expect((await api(pipeline).post(`/integrations/${org}/openai/access`)).status).toBe(404);
    const audit = await api(admin).get(`/integrations/${org}/audit?action=integration.access`);
    expect(audit.status, audit.text).toBe(200);
    const events = audit.body.events as Array<Record<string, any>>;
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: "integration.access",
          provider: "gcp",
          actor: expect.objectContaining({ type: "api_key", id: pipelineId }),
          fingerprint_before: setup.body.fingerprint,
          fingerprint_after: setup.body.fingerprint,
          outcome: "ok",
        }),
        expect.objectContaining({ action: "integration.access", provider: "openai", outcome: "integration_not_found" }),
      ]),
    );
    expect(audit.text).not.toContain(r.body.credentials.access_token);
  });

  it("azure: an Azure access token for the management scope with its expiry, never the client secret", async () => {
    const { org, admin, pipeline } = await orgWithKeys("acc-azure");
    const setup = await api(admin).post(`/integrations/${org}/azure/setup`, { credential: { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } });
    expect(setup.status, setup.text).toBe(201);
    const r = await api(pipeline).post(`/integrations/${org}/azure/access`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ kind: "azure_access_token", fingerprint: setup.body.fingerprint, credentials: { subscription_id: FAKE_AZURE_SUBSCRIPTION_ID } });
    expect(r.body.credentials.scope).toMatch(/\/\.default$/);
    expect(r.body.credentials.access_token.length).toBeGreaterThan(10);
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now());
    expect(r.text).not.toContain(FAKE_AZURE_APP.client_secret);
  });

  it("each pipeline key has its own budget (ACCESS_RATE_LIMIT_PER_MINUTE=30 here): the 31st call is 429 with Retry-After; another key is unaffected; a revoked key is 401", async () => {
    const { org, admin, pipeline, pipelineId } = await orgWithKeys("acc-budget");
    expect((await api(admin).post(`/integrations/${org}/openai/setup`, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    const p = api(pipeline);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await p.post(`/integrations/${org}/openai/access`)).status);
    expect(statuses.every((s) => s === 200), statuses.join(",")).toBe(true);
    const over = await p.post(`/integrations/${org}/openai/access`);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("rate_limited");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);

    const second = (await newKey(org, "pipeline")).api_key;
    expect((await api(second).post(`/integrations/${org}/openai/access`)).status).toBe(200);

    await cli(["keys", "revoke", org, pipelineId]);
    expect((await p.post(`/integrations/${org}/openai/access`)).status).toBe(401);
  });

  it("is in the OpenAPI document; the request log carries the fingerprint, never the credential", async () => {
    const doc = await api().get("/openapi.json");
    const op = doc.body.paths["/integrations/{org}/{provider}/access"].post;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "401", "403", "404", "429"]));
    expect(doc.body.components.schemas.AccessResponse.required).toEqual(
      expect.arrayContaining(["org", "provider", "fingerprint", "version", "kind", "credentials", "expires_at"]),
    );
    const lines = await waitFor(() => {
      const found = fs.readFileSync(inject("logFile"), "utf8").split("\n").filter((l) => l.includes("/access"));
      return found.some((l) => /"fingerprint":"[0-9a-f]{8}"/.test(l)) && found;
    }, "an /access request line with a fingerprint in the server log");
    expect(lines.length).toBeGreaterThan(0);
    const log = fs.readFileSync(inject("logFile"), "utf8");
    for (const secret of [FAKE_OPENAI_ADMIN_KEY, FAKE_ANTHROPIC_ADMIN_KEY, FAKE_AWS_KEYS.secretAccessKey]) expect(log).not.toContain(secret);
    for (const issued of aws.issued) expect(log).not.toContain(issued.secretAccessKey);
  });
});
