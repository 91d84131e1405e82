import crypto from "node:crypto";
import net from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { GOOGLE_OAUTH_ERRORS, startGcpFake, type GcpFake } from "@/tests/fakes/gcp";
import { makeServiceAccountKey, type ServiceAccountKeyFile, type ServiceAccountTestKey } from "@/tests/fakes/gcp-keys";
import { startFakeServer, type FakeReply, type FakeServer } from "@/tests/fakes/server";

import { BILLING_TABLE_WARNING, GOOGLE_TOKEN_URL, gcpPermissionPlan, testGcpServiceAccount } from "./index";
import { runAuthenticate, runConnectionTest } from "../index";
import type { ConnectionTestContext, ConnectionTestResult } from "../types";
import { AppError } from "@/lib/errors";
import { tinyBudget } from "@/tests/support/pacing";

const GCP_PERMISSIONS = ["bigquery.jobs.create", "bigquery.tables.getData"];
/** Read-only (docs/decisions/015-vertex-least-privilege.md): gcp_vertex never asks for aiplatform.endpoints.predict. */
const VERTEX_PERMISSIONS = ["aiplatform.endpoints.list"];
/** What gcp_vertex asks of the key's project: the Vertex AI read permission and the billing queries' job permission. */
const VERTEX_PROJECT_PERMISSIONS = [...VERTEX_PERMISSIONS, "bigquery.jobs.create"];
const PROVIDER_NAMES: Record<string, string> = { gcp: "Google Cloud", gcp_vertex: "Google Vertex AI" };

async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function check(result: ConnectionTestResult, name: string) {
  const found = result.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${JSON.stringify(result.checks)}`);
  return found;
}

/** The base64 body lines of a PEM (everything but the BEGIN/END lines). */
function pemBodyLines(pem: string): string[] {
  return pem
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("-----"));
}

describe("GCP service account connection test (gcp, gcp_vertex)", () => {
  let fake: GcpFake;
  /** Every access token and assertion the fake saw, for the leak check. */
  const seenSecrets = (): string[] => {
    const out: string[] = [];
    for (const t of fake.tokenRequests) if (t.accessToken) out.push(t.accessToken);
    for (const r of fake.requests) {
      const assertion = new URLSearchParams(r.body).get("assertion");
      if (r.pathname === "/token" && assertion) out.push(assertion);
    }
    return out;
  };

  function expectNoSecret(result: ConnectionTestResult, key: ServiceAccountKeyFile): void {
    const text = JSON.stringify(result);
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(key.private_key);
    for (const line of pemBodyLines(key.private_key)) {
      if (text.includes(line)) throw new Error("result contains a line of the private key");
      for (let i = 0; i + 16 <= line.length; i += 8) {
        if (text.includes(line.slice(i, i + 16))) throw new Error("result contains a run of the private key");
      }
    }
    for (const secret of seenSecrets()) {
      if (text.includes(secret)) throw new Error("result contains an access token or assertion");
      if (secret.startsWith("ya29.") && text.includes(secret.slice(5, 21))) throw new Error("result contains part of an access token");
    }
  }

  function ctxFor(provider: string, key: ServiceAccountKeyFile, overrides: Partial<ConnectionTestContext> = {}): ConnectionTestContext {
    const endpoints: Record<string, string> = { token_url: fake.tokenUrl, crm_api_base: fake.crmApiBase, bigquery_api_base: fake.bigqueryApiBase };
    if (provider === "gcp_vertex") endpoints.vertex_api_base = "https://us-central1-aiplatform.googleapis.com";
    const credential: Record<string, unknown> = { service_account_json: key };
    if (provider === "gcp_vertex") credential.location = "us-central1";
    return {
      provider,
      providerName: PROVIDER_NAMES[provider] ?? provider,
      credential,
      endpoints,
      org: "acme",
      externalId: "cm-test-external-id",
      timeoutMs: 5_000,
      fetch: globalThis.fetch,
      pace: async () => {},
      now: Date.now,
      ...overrides,
    };
  }

  async function run(provider: string, key: ServiceAccountKeyFile, overrides: Partial<ConnectionTestContext> = {}) {
    const result = await testGcpServiceAccount(ctxFor(provider, key, overrides));
    expectNoSecret(result, key);
    return result;
  }

  /** A fresh key for projectId, registered with the fake holding `permissions` on that project. */
  function registeredKey(projectId: string, permissions: readonly string[], extra: { disabled?: boolean } = {}): ServiceAccountTestKey {
    const key = makeServiceAccountKey({ projectId });
    fake.registerServiceAccount({
      email: key.keyFile.client_email,
      keyId: key.keyFile.private_key_id,
      publicKey: key.publicKey,
      projectId,
      permissions,
      ...extra,
    });
    return key;
  }

  beforeAll(async () => {
    fake = await startGcpFake();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    fake.clearRequests();
  });
  afterEach(() => fake.setMode("normal"));

  it("asks for the registry's cost permissions per provider: project-level on the project, table-level on the table", () => {
    const at = (provider: string) => gcpPermissionPlan(ctxFor(provider, makeServiceAccountKey({ projectId: "plan-proj-01" }).keyFile));
    expect(at("gcp")).toEqual({ project: ["bigquery.jobs.create"], table: ["bigquery.tables.getData"] });
    expect(at("gcp_vertex")).toEqual({ project: VERTEX_PROJECT_PERMISSIONS, table: ["bigquery.tables.getData"] });
  });

  it("makes key files shaped like Google's", () => {
    const { keyFile, publicKeyPem } = makeServiceAccountKey({ projectId: "acme-billing-01" });
    expect(keyFile.type).toBe("service_account");
    expect(keyFile.private_key_id).toMatch(/^[a-f0-9]{40}$/);
    expect(keyFile.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(keyFile.client_email).toBe("finops-reader@acme-billing-01.iam.gserviceaccount.com");
    expect(keyFile.client_id).toMatch(/^[1-9]\d{20}$/);
    expect(keyFile.token_uri).toBe(GOOGLE_TOKEN_URL);
    expect(keyFile.universe_domain).toBe("googleapis.com");
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  const TABLE = "billing-proj-01.billing_export.gcp_billing_export_v1_012345_6789AB_CDEF01";

  it("gcp set up as instructed (jobUser on its project, dataViewer on the export dataset in another project) is ok", async () => {
    const { keyFile } = registeredKey("gcp-proj-01", ["bigquery.jobs.create"]);
    fake.registerTable(TABLE);
    fake.grantDataset({ email: keyFile.client_email, project: "billing-proj-01", dataset: "billing_export", permissions: ["bigquery.tables.getData"] });
    const result = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });

    expect(result.outcome).toBe("ok");
    expect(result.account).toEqual({ id: "gcp-proj-01", name: keyFile.client_email });
    expect(result.checks.map((c) => [c.name, c.outcome, c.message])).toEqual([
      ["authenticate", "ok", undefined],
      ["read_costs", "ok", undefined],
    ]);
    expect(result.warnings).toBeUndefined();
    const t = fake.tokenRequests[0]!;
    expect(t.signatureVerified).toBe(true);
    expect(fake.requests.map((r) => [r.method, r.pathname])).toEqual([
      ["POST", "/token"],
      ["POST", "/v1/projects/gcp-proj-01:testIamPermissions"],
      ["POST", "/bigquery/v2/projects/billing-proj-01/datasets/billing_export/tables/gcp_billing_export_v1_012345_6789AB_CDEF01:testIamPermissions"],
    ]);
    expect(JSON.parse(fake.requests[1]!.body)).toEqual({ permissions: ["bigquery.jobs.create"] });
    expect(JSON.parse(fake.requests[2]!.body)).toEqual({ permissions: ["bigquery.tables.getData"] });
    expect(fake.requests[2]!.headers.authorization).toBe(`Bearer ${t.accessToken}`);
  });

  it("the dataset grant is invisible to projects.testIamPermissions (the fake behaves like Google)", async () => {
    const { keyFile } = registeredKey("gcp-proj-02", ["bigquery.jobs.create"]);
    fake.grantDataset({ email: keyFile.client_email, project: "gcp-proj-02", dataset: "billing_export", permissions: ["bigquery.tables.getData"] });
    const token = await fetch(fake.tokenUrl, { method: "POST", body: "" }).then((r) => r.status);
    expect(token).toBe(400);
    const result = await run("gcp", keyFile); // without a table: the project check alone
    expect(result.outcome).toBe("ok");
    const crm = fake.requests.find((r) => r.pathname.endsWith(":testIamPermissions"))!;
    expect(JSON.parse(crm.body).permissions).not.toContain("bigquery.tables.getData");
  });

  it("gcp without billing_export_table: ok with a visible warning saying what to add", async () => {
    const { keyFile } = registeredKey("gcp-proj-03", ["bigquery.jobs.create"]);
    const result = await run("gcp", keyFile, { metadata: {} });
    expect(result.outcome).toBe("ok");
    expect(check(result, "read_costs")).toMatchObject({ outcome: "ok", message: BILLING_TABLE_WARNING });
    expect(result.warnings).toEqual({ "metadata.billing_export_table": BILLING_TABLE_WARNING });
    expect(BILLING_TABLE_WARNING).toMatch(/billing_export_table/);
    expect(fake.requests.some((r) => r.pathname.startsWith("/bigquery/"))).toBe(false);
  });

  it("gcp naming a table it has no grant on: permission_denied naming bigquery.tables.getData and the dataset", async () => {
    const { keyFile } = registeredKey("gcp-proj-04", ["bigquery.jobs.create"]);
    fake.registerTable(TABLE);
    const result = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("permission_denied");
    const costs = check(result, "read_costs");
    expect(costs.outcome).toBe("permission_denied");
    expect(costs.message).toMatch(/lacks bigquery\.tables\.getData on the billing export table billing-proj-01\.billing_export\./);
    expect(costs.message).toMatch(/roles\/bigquery\.dataViewer/);
    expect(costs.message).toMatch(/billing-proj-01:billing_export/);
  });

  it("an unknown table: BigQuery's 404 notFound → not_found; the documented empty set → permission_denied (both accepted)", async () => {
    const { keyFile } = registeredKey("gcp-proj-05", ["bigquery.jobs.create"]);
    const notFound = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(notFound.outcome).toBe("not_found");
    expect(check(notFound, "read_costs").message).toMatch(/found no table .*notFound/);
    fake.setMode("table_unknown_empty");
    const empty = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(empty.outcome).toBe("permission_denied");
    expect(check(empty, "read_costs").message).toMatch(/bigquery\.tables\.getData/);
  });

  it("a project-level dataViewer grant reaches the table too (IAM inheritance)", async () => {
    const { keyFile } = registeredKey("billing-proj-01", ["bigquery.jobs.create", "bigquery.tables.getData"]);
    fake.registerTable(TABLE);
    const result = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("ok");
  });

  /**
   * A Vertex key granted the setup help's roles: aiplatform.viewer and bigquery.jobUser on its project,
   * dataViewer on the export dataset. `vertexRole` "roles/aiplatform.user" is what the help said before
   * decision 015 (a superset of the viewer role): such keys must still pass.
   */
  function vertexKeyAsInstructed(
    projectId: string,
    opts: { jobUser?: boolean; dataViewer?: boolean; vertexRole?: "roles/aiplatform.viewer" | "roles/aiplatform.user" } = {},
  ) {
    const key = makeServiceAccountKey({ projectId });
    const vertexRole = opts.vertexRole ?? "roles/aiplatform.viewer";
    fake.registerServiceAccount({
      email: key.keyFile.client_email,
      keyId: key.keyFile.private_key_id,
      publicKey: key.publicKey,
      projectId,
      roles: opts.jobUser === false ? [vertexRole] : [vertexRole, "roles/bigquery.jobUser"],
    });
    fake.registerTable(TABLE);
    if (opts.dataViewer !== false) {
      fake.grantDataset({ email: key.keyFile.client_email, project: "billing-proj-01", dataset: "billing_export", roles: ["roles/bigquery.dataViewer"] });
    }
    return key.keyFile;
  }

  it.each([
    ["roles/aiplatform.viewer", "gcp-vertex-proj-01"],
    // Keys set up before decision 015 hold Vertex AI User, a superset: they still pass.
    ["roles/aiplatform.user", "gcp-vertex-proj-11"],
  ] as const)("gcp_vertex set up with %s and jobUser on its project, dataViewer on the export dataset, is ok; both checks run", async (vertexRole, projectId) => {
    const keyFile = vertexKeyAsInstructed(projectId, { vertexRole });
    const result = await run("gcp_vertex", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("ok");
    expect(result.checks.every((c) => c.message === undefined)).toBe(true);
    expect(result.warnings).toBeUndefined();
    expect(fake.requests.map((r) => [r.method, r.pathname])).toEqual([
      ["POST", "/token"],
      ["POST", `/v1/projects/${projectId}:testIamPermissions`],
      ["POST", "/bigquery/v2/projects/billing-proj-01/datasets/billing_export/tables/gcp_billing_export_v1_012345_6789AB_CDEF01:testIamPermissions"],
    ]);
    expect(JSON.parse(fake.requests[1]!.body)).toEqual({ permissions: VERTEX_PROJECT_PERMISSIONS });
    expect(JSON.parse(fake.requests[2]!.body)).toEqual({ permissions: ["bigquery.tables.getData"] });
    expect(fake.tokenRequests[0]!.claims).toMatchObject({ aud: GOOGLE_TOKEN_URL, scope: "https://www.googleapis.com/auth/cloud-platform" });
  });

  it("gcp_vertex is least-privilege: a key that cannot run inference (Vertex AI Viewer + jobUser, dataViewer on the table) is ok, and no predict permission is ever asked of Google", async () => {
    const projectId = "gcp-vertex-proj-12";
    const keyFile = vertexKeyAsInstructed(projectId);
    const result = await run("gcp_vertex", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("ok");
    expect(result.warnings).toBeUndefined();
    const asked = fake.requests.filter((r) => r.pathname.endsWith(":testIamPermissions")).flatMap((r) => (JSON.parse(r.body) as { permissions: string[] }).permissions);
    expect(asked.sort()).toEqual(["aiplatform.endpoints.list", "bigquery.jobs.create", "bigquery.tables.getData"]);
    expect(asked.filter((p) => /predict/i.test(p))).toEqual([]);
    // The premise: with the token the test was issued, Google says this key holds no predict permission
    // on its project, so the credential we store cannot run paid inference.
    const token = fake.tokenRequests.find((t) => t.accessToken)?.accessToken;
    const held = await fetch(`${fake.crmApiBase}/v1/projects/${projectId}:testIamPermissions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token ?? ""}`, "Content-Type": "application/json" },
      body: JSON.stringify({ permissions: ["aiplatform.endpoints.predict", "aiplatform.endpoints.list"] }),
    });
    expect(held.status).toBe(200);
    expect(await held.json()).toEqual({ permissions: ["aiplatform.endpoints.list"] });
  });

  it("gcp_vertex without billing_export_table: ok with the same visible warning, and BigQuery is not asked", async () => {
    const keyFile = vertexKeyAsInstructed("gcp-vertex-proj-02");
    const result = await run("gcp_vertex", keyFile, { metadata: {} });
    expect(result.outcome).toBe("ok");
    expect(check(result, "read_costs")).toMatchObject({ outcome: "ok", message: BILLING_TABLE_WARNING });
    expect(result.warnings).toEqual({ "metadata.billing_export_table": BILLING_TABLE_WARNING });
    expect(fake.requests.some((r) => r.pathname.startsWith("/bigquery/"))).toBe(false);
  });

  it("gcp_vertex naming a table it has no grant on: permission_denied naming bigquery.tables.getData, roles/bigquery.dataViewer and the dataset", async () => {
    const keyFile = vertexKeyAsInstructed("gcp-vertex-proj-03", { dataViewer: false });
    const result = await run("gcp_vertex", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("permission_denied");
    const message = check(result, "read_costs").message!;
    expect(message).toMatch(/lacks bigquery\.tables\.getData on the billing export table billing-proj-01\.billing_export\./);
    expect(message).toMatch(/roles\/bigquery\.dataViewer/);
    expect(message).toMatch(/billing-proj-01:billing_export/);
  });

  it("gcp_vertex with Vertex AI Viewer alone: permission_denied naming bigquery.jobs.create and roles/bigquery.jobUser; the table is not asked", async () => {
    const keyFile = vertexKeyAsInstructed("gcp-vertex-proj-04", { jobUser: false });
    const result = await run("gcp_vertex", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("permission_denied");
    const message = check(result, "read_costs").message!;
    expect(message).toMatch(/lacks the permission bigquery\.jobs\.create on project gcp-vertex-proj-04/);
    expect(message).toMatch(/Grant roles\/bigquery\.jobUser /);
    expect(message).not.toMatch(/aiplatform/);
    expect(fake.requests.some((r) => r.pathname.startsWith("/bigquery/"))).toBe(false);
  });

  it("never contacts the key file's token_uri (or its other URLs): the token goes to endpoints.token_url", async () => {
    const trap: FakeServer<"normal"> = await startFakeServer<"normal">(
      () => ({ status: 200, body: { access_token: "ya29.trap", expires_in: 3599, token_type: "Bearer" } }),
      "normal",
    );
    try {
      const projectId = "trap-test-proj";
      const key = makeServiceAccountKey({
        projectId,
        tokenUri: `${trap.url}/token`,
        authUri: `${trap.url}/auth`,
        authProviderCertUrl: `${trap.url}/certs`,
        clientCertUrl: `${trap.url}/x509`,
      });
      fake.registerServiceAccount({
        email: key.keyFile.client_email,
        keyId: key.keyFile.private_key_id,
        publicKey: key.publicKeyPem,
        projectId,
        permissions: GCP_PERMISSIONS,
      });
      const result = await run("gcp", key.keyFile);
      expect(result.outcome).toBe("ok");
      expect(trap.requests).toHaveLength(0);
      expect(fake.tokenRequests).toHaveLength(1);
      expect(fake.tokenRequests[0]!.signatureVerified).toBe(true);
    } finally {
      await trap.close();
    }
  });

  it("auth_failed when Google holds a different public key (Invalid JWT Signature); read_costs not run", async () => {
    const projectId = "other-key-proj";
    const { keyFile } = makeServiceAccountKey({ projectId });
    const other = makeServiceAccountKey({ projectId });
    fake.registerServiceAccount({
      email: keyFile.client_email,
      keyId: keyFile.private_key_id,
      publicKey: other.publicKey,
      projectId,
      permissions: GCP_PERMISSIONS,
    });
    const result = await run("gcp", keyFile);

    expect(result.outcome).toBe("auth_failed");
    expect(result.account).toBeNull();
    expect(result.key_kind).toBe("service_account");
    const auth = check(result, "authenticate");
    expect(auth.message).toMatch(/Invalid JWT Signature/);
    expect(auth.message).toMatch(/deleted .*or it is not this service account's: create a new key/);
    expect(check(result, "read_costs").outcome).toBe("skipped");
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.tokenRequests[0]!.signatureVerified).toBe(false);
    expect(fake.tokenRequests[0]!.error).toEqual(GOOGLE_OAUTH_ERRORS.badSignature);
    expect(fake.requests).toHaveLength(1);
  });

  it("auth_failed with a clock-skew hint when the assertion is outside Google's timeframe", async () => {
    const { keyFile } = registeredKey("skewed-clock-proj", GCP_PERMISSIONS);
    fake.setClockOffset(10 * 60_000); // Google's clock is 10 minutes ahead of ours
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("auth_failed");
    const auth = check(result, "authenticate");
    expect(auth.message).toMatch(/reasonable timeframe/);
    expect(auth.message).toMatch(/clock/);
    expect(auth.message).toMatch(/NTP/);
    expect(fake.tokenRequests[0]!.signatureVerified).toBe(true);
    expect(fake.tokenRequests[0]!.error).toEqual(GOOGLE_OAUTH_ERRORS.clockSkew);
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("auth_failed for a service account Google does not know (deleted)", async () => {
    const { keyFile } = makeServiceAccountKey({ projectId: "deleted-sa-proj" });
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/does not know the service account .*deleted/);
  });

  it("auth_failed for a disabled service account", async () => {
    const { keyFile } = registeredKey("disabled-sa-proj", GCP_PERMISSIONS, { disabled: true });
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/is disabled \(invalid_grant\)\. Enable it/);
  });

  it("auth_failed without any request when the private key cannot sign", async () => {
    const { keyFile } = registeredKey("broken-pem-proj", GCP_PERMISSIONS);
    const broken = { ...keyFile, private_key: "-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n" };
    const result = await run("gcp", broken);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/private_key could not be used to sign/);
    expect(fake.requests).toHaveLength(0);
  });

  it("permission_denied naming bigquery.jobs.create and roles/bigquery.jobUser when the project grant is missing; the table is not asked", async () => {
    const { keyFile } = registeredKey("no-grants-proj", []);
    fake.registerTable(TABLE);
    const result = await run("gcp", keyFile, { metadata: { billing_export_table: TABLE } });
    expect(result.outcome).toBe("permission_denied");
    const message = check(result, "read_costs").message!;
    expect(message).toMatch(/lacks the permission bigquery\.jobs\.create on project no-grants-proj/);
    expect(message).toMatch(/Grant roles\/bigquery\.jobUser /);
    expect(fake.requests.some((r) => r.pathname.startsWith("/bigquery/"))).toBe(false);
  });

  it("gcp_vertex: permission_denied naming the Vertex permission and roles/aiplatform.viewer (never aiplatform.user), no BigQuery note", async () => {
    const { keyFile } = registeredKey("vertex-half-proj", ["bigquery.jobs.create"]);
    const result = await run("gcp_vertex", keyFile);
    expect(result.outcome).toBe("permission_denied");
    const message = check(result, "read_costs").message!;
    expect(message).toMatch(/lacks the permission aiplatform\.endpoints\.list on project vertex-half-proj/);
    expect(message).toMatch(/Grant roles\/aiplatform\.viewer /);
    expect(message).not.toMatch(/aiplatform\.user|predict/);
    expect(message).not.toMatch(/bigquery|dataset/);
  });

  it("permission_denied when the Cloud Resource Manager API is disabled (SERVICE_DISABLED)", async () => {
    const { keyFile } = registeredKey("crm-off-proj", GCP_PERMISSIONS);
    fake.registerProject("crm-off-proj", { serviceDisabled: true });
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").outcome).toBe("ok");
    expect(check(result, "read_costs").message).toMatch(/SERVICE_DISABLED\): enable the Cloud Resource Manager API/);
  });

  it("not_found for a project Google does not know", async () => {
    const { keyFile, publicKey } = makeServiceAccountKey({ projectId: "ghost-project-9" });
    fake.registerServiceAccount({ email: keyFile.client_email, keyId: keyFile.private_key_id, publicKey });
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("not_found");
    expect(check(result, "read_costs").message).toMatch(/could not find the project ghost-project-9/);
  });

  it("rate_limited with retry_after_s from the CRM answer's RetryInfo", async () => {
    const { keyFile } = registeredKey("crm-busy-proj", GCP_PERMISSIONS);
    fake.setMode("rate_limited");
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(check(result, "read_costs").retry_after_s).toBe(7);
    expect(fake.requests).toHaveLength(2);
  });

  it("rate_limited from the token endpoint (Retry-After: 7), one request only", async () => {
    const { keyFile } = registeredKey("token-busy-proj", GCP_PERMISSIONS);
    fake.setMode("token_rate_limited");
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(check(result, "read_costs").outcome).toBe("skipped");
    expect(fake.requests).toHaveLength(1);
  });

  it("provider_error for a CRM 503", async () => {
    const { keyFile } = registeredKey("crm-down-proj", GCP_PERMISSIONS);
    fake.setMode("unavailable");
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("provider_error");
    expect(check(result, "read_costs").message).toMatch(/answered 503/);
    expect(fake.requests).toHaveLength(2);
  });

  it("provider_error for a token endpoint 503, without retrying", async () => {
    const { keyFile } = registeredKey("token-down-proj", GCP_PERMISSIONS);
    fake.setMode("token_unavailable");
    const result = await run("gcp", keyFile);
    expect(result.outcome).toBe("provider_error");
    expect(check(result, "authenticate").message).toMatch(/answered 503/);
    expect(fake.requests).toHaveLength(1);
  });

  it("timeout when the CRM never answers (timeoutMs 300)", async () => {
    const { keyFile } = registeredKey("crm-hang-proj", GCP_PERMISSIONS);
    fake.setMode("hang");
    const started = Date.now();
    const result = await run("gcp", keyFile, { timeoutMs: 300 });
    expect(result.outcome).toBe("timeout");
    expect(check(result, "read_costs").message).toMatch(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("timeout when the token endpoint never answers (timeoutMs 300), one request only", async () => {
    const { keyFile } = registeredKey("token-hang-proj", GCP_PERMISSIONS);
    fake.setMode("token_hang");
    const started = Date.now();
    const result = await run("gcp", keyFile, { timeoutMs: 300 });
    expect(result.outcome).toBe("timeout");
    expect(check(result, "authenticate").message).toMatch(/did not answer within 300 ms/);
    expect(check(result, "read_costs").outcome).toBe("skipped");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fake.requests).toHaveLength(1);
  });

  it("network when the token endpoint's port is closed", async () => {
    const { keyFile } = registeredKey("closed-port-proj", GCP_PERMISSIONS);
    const url = await closedPortUrl();
    const result = await run("gcp", keyFile, { endpoints: { token_url: `${url}/token`, crm_api_base: fake.crmApiBase } });
    expect(result.outcome).toBe("network");
    expect(check(result, "authenticate").message).toMatch(/connection refused \(ECONNREFUSED\)/);
    expect(check(result, "authenticate").message).toContain(url);
  });

  it("network when the CRM port is closed", async () => {
    const { keyFile } = registeredKey("closed-crm-proj", GCP_PERMISSIONS);
    const url = await closedPortUrl();
    const result = await run("gcp", keyFile, { endpoints: { token_url: fake.tokenUrl, crm_api_base: url } });
    expect(result.outcome).toBe("network");
    expect(check(result, "authenticate").outcome).toBe("ok");
    expect(check(result, "read_costs").message).toMatch(/ECONNREFUSED/);
  });

  it("auth_failed for an empty or unusable credential, without any request", async () => {
    const result = await testGcpServiceAccount({ ...ctxFor("gcp", makeServiceAccountKey({ projectId: "x-empty-01" }).keyFile), credential: {} });
    expect(result.outcome).toBe("auth_failed");
    expect(result.key_kind).toBe("service_account");
    expect(fake.requests).toHaveLength(0);
  });

  describe("pacing: google-auth-library's token request spends the provider budget (docs/security.md, \"Pacing\")", () => {
    const paced = () =>
      tinyBudget("gcp", { GOOGLE_OAUTH_TOKEN_URL: fake.tokenUrl, GOOGLE_CRM_API_BASE: fake.crmApiBase, GOOGLE_BIGQUERY_API_BASE: fake.bigqueryApiBase });

    it("token + testIamPermissions, then nothing; a refused key the same", async () => {
      for (const permissions of [GCP_PERMISSIONS, null]) {
        fake.clearRequests();
        const { keyFile } = permissions ? registeredKey("paced-proj-01", permissions) : { keyFile: makeServiceAccountKey({ projectId: "paced-unknown-01" }).keyFile };
        const { provider, opts } = paced();
        const one = await runConnectionTest(provider, { service_account_json: keyFile }, opts);
        expect(one.outcome).toBe(permissions ? "ok" : "auth_failed");
        expect(fake.tokenRequests.length).toBeGreaterThan(0);
        const sent = fake.requests.length;

        const two = await runConnectionTest(provider, { service_account_json: keyFile }, opts);
        expect(two.outcome).toBe("rate_limited");
        expect(two.retry_after_s).toBeGreaterThan(0);
        expect(fake.requests.length).toBe(sent); // not even the token request
      }
    });

    it("a pipeline's authenticate() (the token) is paced the same way: rate_limited, nothing sent", async () => {
      const { keyFile } = registeredKey("paced-proj-02", GCP_PERMISSIONS);
      const { provider, opts } = paced();
      expect((await runAuthenticate(provider, { service_account_json: keyFile }, opts)).kind).toBe("google_access_token");
      const sent = fake.requests.length;
      const e = await runAuthenticate(provider, { service_account_json: keyFile }, opts).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe("rate_limited");
      expect(fake.requests.length).toBe(sent);
    });
  });
});

describe("GCP token endpoint error bodies", () => {
  let stub: FakeServer<"normal">;
  let answer: FakeReply = { status: 400, body: {} };
  const key = makeServiceAccountKey({ projectId: "stub-errors-01" });

  beforeAll(async () => {
    stub = await startFakeServer<"normal">(() => answer, "normal");
  });
  afterAll(() => stub.close());
  beforeEach(() => stub.clearRequests());

  const cases: Array<[string, FakeReply, string, RegExp]> = [
    ["deleted account", { status: 400, body: GOOGLE_OAUTH_ERRORS.accountNotFound }, "auth_failed", /does not know the service account/],
    ["disabled client", { status: 401, body: { error: "disabled_client", error_description: "The OAuth client was disabled." } }, "auth_failed", /is disabled \(disabled_client\)/],
    ["deleted client", { status: 401, body: { error: "deleted_client", error_description: "The OAuth client was deleted." } }, "auth_failed", /was probably deleted/],
    ["unknown client", { status: 401, body: { error: "invalid_client", error_description: "The OAuth client was not found." } }, "auth_failed", /does not know the service account/],
    ["expired key", { status: 400, body: { error: "invalid_grant", error_description: "Key expired." } }, "expired", /has expired \(invalid_grant\)/],
    ["other invalid_grant", { status: 400, body: { error: "invalid_grant", error_description: "Bad Request" } }, "auth_failed", /refused this service account key \(invalid_grant\)/],
    ["invalid_scope", { status: 400, body: GOOGLE_OAUTH_ERRORS.noScope }, "provider_error", /refused the token request \(invalid_scope\)/],
    ["HTML 502", { status: 502, body: "<html>bad gateway</html>" }, "provider_error", /answered 502/],
    ["200 without a token", { status: 200, body: { token_type: "Bearer" } }, "provider_error", /not with the expected JSON/],
  ];

  for (const [name, reply, outcome, message] of cases) {
    it(`${name} → ${outcome}`, async () => {
      answer = reply;
      const result = await testGcpServiceAccount({
        provider: "gcp",
        providerName: "Google Cloud",
        credential: { service_account_json: key.keyFile },
        endpoints: { token_url: `${stub.url}/token`, crm_api_base: stub.url },
        org: "acme",
        externalId: "cm-test-external-id",
        timeoutMs: 5_000,
        fetch: globalThis.fetch,
        pace: async () => {},
        now: Date.now,
      });
      expect(result.outcome).toBe(outcome);
      expect(check(result, "authenticate").message).toMatch(message);
      expect(check(result, "read_costs").outcome).toBe("skipped");
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]!.pathname).toBe("/token");
      const text = JSON.stringify(result);
      for (const line of pemBodyLines(key.keyFile.private_key)) expect(text).not.toContain(line);
      expect(text).not.toContain(new URLSearchParams(stub.requests[0]!.body).get("assertion"));
    });
  }

  it("the assertion is signed for Google's audience even though it is sent elsewhere", async () => {
    answer = { status: 400, body: GOOGLE_OAUTH_ERRORS.badSignature };
    await testGcpServiceAccount({
      provider: "gcp",
      providerName: "Google Cloud",
      credential: { service_account_json: key.keyFile },
      endpoints: { token_url: `${stub.url}/token`, crm_api_base: stub.url },
      org: "acme",
      externalId: "cm-test-external-id",
      timeoutMs: 5_000,
      fetch: globalThis.fetch,
      pace: async () => {},
      now: Date.now,
    });
    const assertion = new URLSearchParams(stub.requests[0]!.body).get("assertion")!;
    const [h, p, s] = assertion.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    expect(claims.aud).toBe(GOOGLE_TOKEN_URL);
    expect(claims.iss).toBe(key.keyFile.client_email);
    expect(crypto.verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key.publicKey, Buffer.from(s, "base64url"))).toBe(true);
  });
});
