import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { createOrg } from "../support/stack";
import { startGcpFake, type GcpFake } from "../fakes/gcp";
import { makeServiceAccountKey } from "../fakes/gcp-keys";
import { startOciFake, type OciFake } from "../fakes/oci";
import { makeOciApiKey } from "../fakes/oci-keys";

/** GCP, Vertex and OCI over REST against fakes that verify the JWT assertion and request signatures. */
const BILLING = ["bigquery.jobs.create", "bigquery.tables.getData"];
/** Read-only: Vertex AI Viewer's aiplatform.endpoints.list, never .predict (docs/decisions/015-vertex-least-privilege.md). */
const VERTEX = ["aiplatform.endpoints.list"];

describe("GCP and Vertex", () => {
  let gcp: GcpFake;
  beforeAll(async () => {
    gcp = await startGcpFake({ port: inject("ports").gcp });
  });
  afterAll(async () => gcp.close());

  function account(projectId: string, permissions: string[]) {
    const sa = makeServiceAccountKey({ projectId, tokenUri: "http://127.0.0.1:9/never-called" });
    gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId, permissions });
    return sa.keyFile;
  }

  const TABLE = "finops-billing-x.billing_export.gcp_billing_export_v1_012345_6789AB_CDEF01";

  it("a service account set up as instructed (jobUser on its project, dataViewer on the export dataset) is active; naming a table it has no grant on is 422 naming bigquery.tables.getData; the first stays", async () => {
    const org = uniqueOrg("gcp");
    const c = api(createOrg(inject("dataDir"), org));
    const good = account("finops-billing-1", ["bigquery.jobs.create"]);
    gcp.registerTable(TABLE);
    gcp.grantDataset({ email: good.client_email, project: "finops-billing-x", dataset: "billing_export", permissions: ["bigquery.tables.getData"] });
    const ok = await c.post(`/integrations/${org}/gcp/setup`, {
      credential: { service_account_json: JSON.stringify(good) },
      metadata: { billing_export_table: TABLE },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "service_account", account: { id: "finops-billing-1", name: good.client_email } });
    expect(ok.body.warnings ?? {}).not.toHaveProperty(["metadata.billing_export_table"]);
    expect(gcp.tokenRequests.at(-1)).toMatchObject({ signatureVerified: true, error: null });

    const other = "finops-billing-x.other_export.gcp_billing_export_v1_012345_6789AB_CDEF01";
    gcp.registerTable(other);
    const denied = await c.post(`/integrations/${org}/gcp/setup`, { credential: { service_account_json: good }, metadata: { billing_export_table: other } });
    expect(denied.status).toBe(422);
    expect(denied.body.error.code).toBe("connection_test_failed");
    expect(denied.body.error.connection_test.outcome).toBe("permission_denied");
    expect(denied.body.error.message).toContain("bigquery.tables.getData");
    expect(denied.text).not.toContain("PRIVATE KEY");

    const list = await c.get(`/integrations/${org}`);
    expect(list.body.integrations[0]).toMatchObject({ provider: "gcp", version: 1, fingerprint: ok.body.fingerprint });
    expect((await c.post(`/integrations/${org}/gcp/validate`)).body.status).toBe("active");
  });

  it("without billing_export_table the key is accepted with a warning saying what to add; without jobUser it is 422", async () => {
    const org = uniqueOrg("gcp-warn");
    const c = api(createOrg(inject("dataDir"), org));
    const ok = await c.post(`/integrations/${org}/gcp/setup`, { credential: { service_account_json: account("finops-billing-4", ["bigquery.jobs.create"]) } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.warnings["metadata.billing_export_table"]).toMatch(/add the metadata key billing_export_table/);
    const weak = await c.post(`/integrations/${org}/gcp/setup`, { credential: { service_account_json: account("finops-billing-2", []) } });
    expect(weak.status).toBe(422);
    expect(weak.body.error.message).toContain("bigquery.jobs.create");
  });

  it("a key Google does not know (other public key registered) is 422 auth_failed", async () => {
    const org = uniqueOrg("gcp-bad");
    const c = api(createOrg(inject("dataDir"), org));
    const sa = makeServiceAccountKey({ projectId: "finops-billing-3" });
    const other = makeServiceAccountKey({ projectId: "finops-billing-3", email: sa.keyFile.client_email });
    gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: other.publicKey, projectId: "finops-billing-3", permissions: BILLING });
    const r = await c.post(`/integrations/${org}/gcp/setup`, { credential: { service_account_json: sa.keyFile } });
    expect(r.status).toBe(422);
    expect(r.body.error.connection_test.outcome).toBe("auth_failed");
    expect((await c.get(`/integrations/${org}`)).body.integrations).toEqual([]);
  });

  it("Vertex set up as instructed (aiplatform.viewer and jobUser on its project, dataViewer on the export dataset) is active; naming a table it has no grant on is 422 naming bigquery.tables.getData", async () => {
    const org = uniqueOrg("vertex-billing");
    const c = api(createOrg(inject("dataDir"), org));
    const sa = makeServiceAccountKey({ projectId: "finops-vertex-5", tokenUri: "http://127.0.0.1:9/never-called" });
    const email = sa.keyFile.client_email;
    gcp.registerServiceAccount({ email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: "finops-vertex-5", roles: ["roles/aiplatform.viewer", "roles/bigquery.jobUser"] });
    gcp.registerTable(TABLE);
    gcp.grantDataset({ email, project: "finops-billing-x", dataset: "billing_export", roles: ["roles/bigquery.dataViewer"] });
    gcp.clearRequests();
    const ok = await c.post(`/integrations/${org}/gcp_vertex/setup`, {
      credential: { service_account_json: JSON.stringify(sa.keyFile), location: "europe-west4" },
      metadata: { billing_export_table: TABLE },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "service_account", account: { id: "finops-vertex-5", name: email } });
    expect(ok.body.warnings ?? {}).not.toHaveProperty(["metadata.billing_export_table"]);
    // Both places were asked: the key's project (Vertex AI and the billing queries), then the export table.
    const asked = gcp.requests.map((r) => [r.pathname, r.body] as const);
    expect(asked).toContainEqual(["/v1/projects/finops-vertex-5:testIamPermissions", JSON.stringify({ permissions: [...VERTEX, "bigquery.jobs.create"] })]);
    // Least privilege: nothing asked of Google names a predict permission (the key cannot run inference).
    expect(asked.filter(([, body]) => /predict/i.test(body))).toEqual([]);
    expect(asked).toContainEqual([
      "/bigquery/v2/projects/finops-billing-x/datasets/billing_export/tables/gcp_billing_export_v1_012345_6789AB_CDEF01:testIamPermissions",
      JSON.stringify({ permissions: ["bigquery.tables.getData"] }),
    ]);

    const other = "finops-billing-x.vertex_export.gcp_billing_export_v1_012345_6789AB_CDEF01";
    gcp.registerTable(other);
    const denied = await c.post(`/integrations/${org}/gcp_vertex/setup`, { credential: { service_account_json: sa.keyFile }, metadata: { billing_export_table: other } });
    expect(denied.status).toBe(422);
    expect(denied.body.error.code).toBe("connection_test_failed");
    expect(denied.body.error.connection_test.outcome).toBe("permission_denied");
    expect(denied.body.error.message).toContain("bigquery.tables.getData");
    expect(denied.text).not.toContain("PRIVATE KEY");
    const list = await c.get(`/integrations/${org}`);
    expect(list.body.integrations[0]).toMatchObject({ provider: "gcp_vertex", version: 1, status: "active", fingerprint: ok.body.fingerprint });
  });

  it("Vertex set up before the least-privilege change (roles/aiplatform.user, a superset of the viewer role) is still active", async () => {
    const org = uniqueOrg("vertex-user");
    const c = api(createOrg(inject("dataDir"), org));
    const sa = makeServiceAccountKey({ projectId: "finops-vertex-6", tokenUri: "http://127.0.0.1:9/never-called" });
    const email = sa.keyFile.client_email;
    gcp.registerServiceAccount({ email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: "finops-vertex-6", roles: ["roles/aiplatform.user", "roles/bigquery.jobUser"] });
    gcp.registerTable(TABLE);
    gcp.grantDataset({ email, project: "finops-billing-x", dataset: "billing_export", roles: ["roles/bigquery.dataViewer"] });
    const ok = await c.post(`/integrations/${org}/gcp_vertex/setup`, {
      credential: { service_account_json: JSON.stringify(sa.keyFile), location: "europe-west4" },
      metadata: { billing_export_table: TABLE },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", account: { id: "finops-vertex-6", name: email } });
  });

  it("Vertex without billing_export_table is accepted with the warning; without the Vertex AI or the BigQuery job permission it is 422 naming it", async () => {
    const org = uniqueOrg("vertex");
    const c = api(createOrg(inject("dataDir"), org));
    const ok = await c.post(`/integrations/${org}/gcp_vertex/setup`, {
      credential: { service_account_json: account("finops-vertex-1", [...VERTEX, "bigquery.jobs.create"]), location: "europe-west4" },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.warnings["metadata.billing_export_table"]).toMatch(/add the metadata key billing_export_table/);
    const no = await c.post(`/integrations/${org}/gcp_vertex/setup`, { credential: { service_account_json: account("finops-vertex-2", BILLING) } });
    expect(no.status).toBe(422);
    expect(no.body.error.message).toContain("aiplatform.endpoints.list");
    expect(no.body.error.message).toContain("roles/aiplatform.viewer");
    const noJobs = await c.post(`/integrations/${org}/gcp_vertex/setup`, { credential: { service_account_json: account("finops-vertex-3", VERTEX) } });
    expect(noJobs.status).toBe(422);
    expect(noJobs.body.error.message).toContain("bigquery.jobs.create");
  });
});

describe("OCI", () => {
  let oci: OciFake;
  beforeAll(async () => {
    oci = await startOciFake({ port: inject("ports").oci });
  });
  afterAll(async () => oci.close());

  function user(seed: string, canReadUsage = true, canReadSelf = true) {
    const key = makeOciApiKey({ seed });
    oci.registerUser({
      tenancy: key.credential.tenancy_ocid,
      user: key.credential.user_ocid,
      fingerprint: key.fingerprint,
      publicKeyPem: key.publicKeyPem,
      name: `finops-${seed}`,
      canReadUsage,
      canReadSelf,
    });
    return key.credential;
  }

  it("a least-privilege user (its group may only read usage-report; no self-read, so GET users/{self} is 404) is active", async () => {
    const org = uniqueOrg("oci-lp");
    const c = api(createOrg(inject("dataDir"), org));
    const r = await c.post(`/integrations/${org}/oci/setup`, { credential: user("least", true, false) });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ status: "active", account: { name: null } });
    expect(r.body.connection_test.checks.map((x: { name: string; outcome: string }) => [x.name, x.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(oci.verifications.at(-1)).toMatchObject({ ok: true });
  });

  it("a signed API key with the usage policy sets up active; without the policy 422 names the policy", async () => {
    const org = uniqueOrg("oci");
    const c = api(createOrg(inject("dataDir"), org));
    const ok = await c.post(`/integrations/${org}/oci/setup`, { credential: user("good") });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "api_key", account: { name: "finops-good" } });
    expect(oci.verifications.length).toBeGreaterThan(0);
    expect(oci.verifications.every((v) => v.ok)).toBe(true);

    const no = await c.post(`/integrations/${org}/oci/setup`, { credential: user("nopolicy", false) });
    expect(no.status).toBe(422);
    expect(no.body.error.connection_test.outcome).toBe("permission_denied");
    expect(no.body.error.message).toContain("read usage-report");
    expect((await c.get(`/integrations/${org}`)).body.integrations[0].version).toBe(1);
  });

  it("a fingerprint that does not match the key is 400 invalid_format on that field", async () => {
    const org = uniqueOrg("oci-bad");
    const c = api(createOrg(inject("dataDir"), org));
    const cred = { ...user("mismatch"), fingerprint: "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff" };
    const r = await c.post(`/integrations/${org}/oci/setup`, { credential: cred });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_format");
    expect(r.body.error.fields).toHaveProperty(["credential.fingerprint"]);
  });
});
