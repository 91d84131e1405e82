import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { getSetupInfo, PLATFORM_AWS_IDENTITY_MISSING } from "./get-setup-info";

/** setup-info for AWS roles: a usable trust policy only when the platform has an AWS identity. */
async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const saved = { ...process.env };
let bare: TestCore;
let configured: TestCore;

beforeAll(async () => {
  // The default start: no AWS credentials anywhere the SDK looks, STS unreachable.
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) delete process.env[k];
  Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" });
  const sts = await closedPortUrl();
  bare = await makeCore({ env: { AWS_STS_ENDPOINT: sts, PLATFORM_AWS_PRINCIPAL_ARN: undefined } });
  configured = await makeCore({ env: { AWS_STS_ENDPOINT: sts, PLATFORM_AWS_PRINCIPAL_ARN: "arn:aws:iam::210987654321:role/FinOpsPlatform" } });
  await bare.addOrg("acme");
  await configured.addOrg("acme");
});
afterAll(async () => {
  await bare.close();
  await configured.close();
  process.env = saved;
});

describe("AWS setup-info", () => {
  for (const provider of ["aws_iam", "aws_bedrock"]) {
    it(`${provider}: with no platform AWS identity, no policy to copy and a plain note for the operator`, async () => {
      const info = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider }, bare.deps);
      expect(info.aws).toMatchObject({ platform_principal: null, trust_policy: null, cloudformation_template: null, note: PLATFORM_AWS_IDENTITY_MISSING });
      expect(JSON.stringify(info)).not.toContain("<PLATFORM_PRINCIPAL_ARN>");
      expect(info.aws!.note).toMatch(/PLATFORM_AWS_PRINCIPAL_ARN/);
      expect(info.aws!.note).toMatch(/sts:AssumeRole/);
      expect(info.steps.join(" ")).toMatch(/ask the operator/);
      // The org's external ID is still shown: it does not depend on the platform.
      expect(info.aws!.external_id).toMatch(/\S{8,}/);
    });

    it(`${provider}: with the platform principal configured, a trust policy naming it and the org's external ID`, async () => {
      const info = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider }, configured.deps);
      const policy = info.aws!.trust_policy as { Statement: Array<{ Principal: { AWS: string }; Condition: { StringEquals: Record<string, string> } }> };
      expect(policy.Statement[0]!.Principal.AWS).toBe("arn:aws:iam::210987654321:role/FinOpsPlatform");
      expect(policy.Statement[0]!.Condition.StringEquals["sts:ExternalId"]).toBe(info.aws!.external_id);
      expect(info.aws!.cloudformation_template).not.toBeNull();
      expect(info.aws!.note).toBeUndefined();
    });
  }
});

describe("setup-info from the protocol modules, driven by the registry", () => {
  it("every provider answers with steps, its docs and its registry permissions", async () => {
    const { listProviders } = await import("./registry");
    for (const p of listProviders()) {
      const id = p.template ? "saas_vendor" : p.id;
      const info = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider: id }, configured.deps);
      expect(info.steps.length, id).toBeGreaterThan(0);
      expect(info.permissions).toEqual(p.cost_permissions);
      expect(info.docs).toEqual(p.docs);
    }
  });

  it("gcp: roles go where the connection test looks for them (jobUser on the project, dataViewer on the dataset) and the table metadata is asked for", async () => {
    const info = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider: "gcp" }, configured.deps);
    expect(info.commands).toContain(
      'gcloud projects add-iam-policy-binding PROJECT_ID --member "serviceAccount:finops-reader@PROJECT_ID.iam.gserviceaccount.com" --role roles/bigquery.jobUser',
    );
    expect(info.commands).toContain(
      'bq add-iam-policy-binding --member "serviceAccount:finops-reader@PROJECT_ID.iam.gserviceaccount.com" --role roles/bigquery.dataViewer BILLING_PROJECT:BILLING_DATASET',
    );
    expect(info.steps.join(" ")).toMatch(/billing_export_table/);
    const vertex = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider: "gcp_vertex" }, configured.deps);
    const member = '"serviceAccount:finops-vertex@PROJECT_ID.iam.gserviceaccount.com"';
    // Vertex spend is read from the billing export: the same two places as gcp, plus Vertex AI Viewer (read-only) on the
    // key's project; never Vertex AI User, which could run paid inference (docs/decisions/015-vertex-least-privilege.md).
    expect(vertex.commands).toContain(`gcloud projects add-iam-policy-binding PROJECT_ID --member ${member} --role roles/aiplatform.viewer`);
    expect((vertex.commands ?? []).join("\n")).not.toMatch(/aiplatform\.(user|admin)|predict/);
    expect(vertex.commands).toContain(`gcloud projects add-iam-policy-binding PROJECT_ID --member ${member} --role roles/bigquery.jobUser`);
    expect(vertex.commands).toContain(`bq add-iam-policy-binding --member ${member} --role roles/bigquery.dataViewer BILLING_PROJECT:BILLING_DATASET`);
    expect(vertex.steps.join(" ")).toMatch(/billing_export_table/);
    expect(vertex.steps[0]).toMatch(/uses Google Vertex AI \(the billing queries run there too\)/);
  });

  it("oci: the policy statements come from the registry's permissions, for a named group", async () => {
    const info = await getSetupInfo({ actor: SYSTEM_ACTOR, org: "acme", provider: "oci" }, configured.deps);
    expect(info.policy_statements).toEqual([
      "Allow group FinOpsReaders to read usage-report in tenancy",
      "define tenancy usage-report as ocid1.tenancy.oc1..aaaaaaaaned4fkpkisbwjlr56u7cj63lf3wffbilvqknstgtvzub7vhqkggq",
      "endorse group FinOpsReaders to read objects in tenancy usage-report",
    ]);
  });
});

describe("the platform's AWS identity lookup", () => {
  it("a missing identity is remembered for a minute (no STS round trip per page), then asked again", async () => {
    const http = await import("node:http");
    let calls = 0;
    const sts = http.createServer((_req, res) => {
      calls++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => sts.listen(0, "127.0.0.1", () => r()));
    const { getPlatformAwsPrincipal, clearPlatformAwsPrincipalCache } = await import("./platform-identity");
    try {
      clearPlatformAwsPrincipalCache();
      const url = `http://127.0.0.1:${(sts.address() as { port: number }).port}`;
      const env = { ...bare.deps.env, PLATFORM_AWS_PRINCIPAL_ARN: undefined, endpointOverrides: { AWS_STS_ENDPOINT: url } };
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIAFAKEPLATFORM0001", AWS_SECRET_ACCESS_KEY: "x".repeat(40) });
      const t0 = Date.UTC(2026, 0, 1);
      expect(await getPlatformAwsPrincipal(env, t0)).toBeNull();
      const first = calls;
      expect(first).toBeGreaterThan(0);
      expect(await getPlatformAwsPrincipal(env, t0 + 30_000)).toBeNull();
      expect(calls).toBe(first);
      expect(await getPlatformAwsPrincipal(env, t0 + 61_000)).toBeNull();
      expect(calls).toBeGreaterThan(first);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      clearPlatformAwsPrincipalCache();
      sts.close();
    }
  });
});
