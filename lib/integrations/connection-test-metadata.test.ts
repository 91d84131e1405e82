import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { startGcpFake, type GcpFake } from "@/tests/fakes/gcp";
import { makeServiceAccountKey, type ServiceAccountTestKey } from "@/tests/fakes/gcp-keys";
import { AppError } from "../errors";
import { setupIntegration } from "./setup-integration";
import { validateIntegration } from "./validate-integration";

/**
 * Some connection tests read the integration's metadata (gcp and gcp_vertex prove read access on
 * the `billing_export_table` it names; docs/providers.md, "Google Cloud"). Setup hands the test the
 * metadata given (or, on a replacement without metadata, the stored one); validate hands it the
 * stored metadata. Proven against the GCP fake, which answers per table and per dataset grant.
 */

const TABLE = "finops-billing-m.billing_export.gcp_billing_export_v1_012345_6789AB_CDEF01";
const OTHER = "finops-billing-m.other_export.gcp_billing_export_v1_012345_6789AB_CDEF01";

let core: TestCore;
let gcp: GcpFake;

beforeAll(async () => {
  gcp = await startGcpFake();
  core = await makeCore({
    env: {
      GOOGLE_OAUTH_TOKEN_URL: gcp.tokenUrl,
      GOOGLE_CRM_API_BASE: gcp.crmApiBase,
      GOOGLE_BIGQUERY_API_BASE: gcp.bigqueryApiBase,
      CONNECTION_TEST_TIMEOUT_MS: "5000",
      ORG_RATE_LIMIT_PER_MINUTE: "1000",
    },
  });
  core.clock.t = Date.now(); // the fake checks the assertion's iat/exp with the real clock
  await core.addOrg("acme");
});

beforeEach(() => {
  core.clock.t = Date.now();
  gcp.reset();
});

afterAll(async () => {
  await core.close();
  await gcp.close();
});

/** Registers the key as the setup help instructs for gcp_vertex, with the dataset grant only when asked. */
function grant(sa: ServiceAccountTestKey, opts: { dataViewer: boolean }) {
  const email = sa.keyFile.client_email;
  gcp.registerServiceAccount({
    email,
    keyId: sa.keyFile.private_key_id,
    publicKey: sa.publicKey,
    projectId: sa.keyFile.project_id,
    roles: ["roles/aiplatform.viewer", "roles/bigquery.jobUser"],
  });
  gcp.registerTable(TABLE);
  gcp.registerTable(OTHER);
  if (opts.dataViewer) gcp.grantDataset({ email, project: "finops-billing-m", dataset: "billing_export", roles: ["roles/bigquery.dataViewer"] });
}

async function setupError(input: unknown): Promise<AppError> {
  try {
    await setupIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex", input }, core.deps);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("setup passed");
}

const tableChecks = () => gcp.requests.filter((r) => r.pathname.startsWith("/bigquery/")).map((r) => r.pathname);

describe("the connection test sees the integration's metadata", () => {
  it("setup: the named table is checked (no grant on it → 422 permission_denied naming bigquery.tables.getData); a replacement without metadata keeps checking the stored table", async () => {
    const sa = makeServiceAccountKey({ projectId: "finops-vertex-m1" });
    grant(sa, { dataViewer: true });
    gcp.clearRequests();

    const ok = await setupIntegration(
      { actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex", input: { credential: { service_account_json: sa.keyFile }, metadata: { billing_export_table: TABLE } } },
      core.deps,
    );
    expect(ok.integration.status).toBe("active");
    expect(ok.connection_test.warnings).toBeUndefined();
    expect(tableChecks()).toEqual([
      "/bigquery/v2/projects/finops-billing-m/datasets/billing_export/tables/gcp_billing_export_v1_012345_6789AB_CDEF01:testIamPermissions",
    ]);

    const denied = await setupError({ credential: { service_account_json: sa.keyFile }, metadata: { billing_export_table: OTHER } });
    expect(denied.code).toBe("connection_test_failed");
    expect((denied.extra.connection_test as { outcome: string }).outcome).toBe("permission_denied");
    expect(denied.message).toContain("bigquery.tables.getData");

    // A replacement key without metadata: the stored table (TABLE) is what the test proves.
    gcp.clearRequests();
    const again = await setupIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex", input: { credential: { service_account_json: sa.keyFile } } }, core.deps);
    expect(again.integration.status).toBe("active");
    expect(tableChecks()).toHaveLength(1);
    expect(tableChecks()[0]).toContain("/datasets/billing_export/");
  });

  it("validate: the stored table is checked again, so a revoked dataset grant turns the integration invalid, naming bigquery.tables.getData", async () => {
    const sa = makeServiceAccountKey({ projectId: "finops-vertex-m2" });
    grant(sa, { dataViewer: true });
    const ok = await setupIntegration(
      { actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex", input: { credential: { service_account_json: sa.keyFile }, metadata: { billing_export_table: TABLE } } },
      core.deps,
    );
    expect(ok.integration.status).toBe("active");

    gcp.reset();
    grant(sa, { dataViewer: false }); // the dataset grant was removed at Google
    gcp.clearRequests();
    const r = await validateIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex" }, core.deps);
    expect(r.connection_test.outcome).toBe("permission_denied");
    expect(r.integration.status).toBe("invalid");
    expect(r.connection_test.checks.find((c) => c.name === "read_costs")?.message).toMatch(/lacks bigquery\.tables\.getData on the billing export table/);
    expect(tableChecks()).toHaveLength(1);
  });
});
