import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { createOrg } from "../support/stack";
import { startAwsFake, type AwsFake } from "../fakes/aws";
import { FAKE_AWS_KEYS, FAKE_AWS_KEYS_NO_CE, FAKE_AWS_ROLE_ARN, FAKE_AWS_ROLE_ARN_NO_PERMISSIONS, FAKE_AWS_PLATFORM } from "../fakes/aws-keys";

/**
 * AWS over REST: setup-info gives the org's external ID and the principal to trust; the role
 * trusts exactly that; the server assumes it with its own (fake) platform identity. The fake
 * verifies every SigV4 signature.
 */
describe("AWS", () => {
  let aws: AwsFake;
  beforeAll(async () => {
    aws = await startAwsFake({ port: inject("ports").aws });
  });
  afterAll(async () => aws.close());

  it("setup-info gives a stable external ID, the platform principal, a trust policy and a CloudFormation template", async () => {
    const org = uniqueOrg("aws-info");
    const c = api(createOrg(inject("dataDir"), org));
    const a = await c.get(`/integrations/${org}/aws_iam/setup-info`);
    expect(a.status).toBe(200);
    expect(a.body.aws.external_id).toMatch(/^cm-[A-Za-z0-9_-]{20,}$/);
    expect(a.body.aws.platform_principal).toContain(`:${FAKE_AWS_PLATFORM.account}:`);
    expect(a.body.aws.trust_policy.Statement[0].Condition.StringEquals["sts:ExternalId"]).toBe(a.body.aws.external_id);
    const role = a.body.aws.cloudformation_template.Resources.FinOpsRole.Properties;
    expect(role.Policies[0].PolicyDocument.Statement[0].Action).toEqual(["ce:GetCostAndUsage", "ce:GetDimensionValues"]);
    const again = await c.get(`/integrations/${org}/aws_bedrock/setup-info`);
    expect(again.body.aws.external_id).toBe(a.body.aws.external_id);
    const other = uniqueOrg("aws-info-2");
    const o = await api(createOrg(inject("dataDir"), other)).get(`/integrations/${other}/aws_iam/setup-info`);
    expect(o.body.aws.external_id).not.toBe(a.body.aws.external_id);
    for (const p of ["gcp", "azure", "oci", "openai"]) {
      const r = await c.get(`/integrations/${org}/${p}/setup-info`);
      expect(r.status).toBe(200);
      expect(r.body.permissions.length + r.body.steps.length).toBeGreaterThan(0);
    }
  });

  it("aws_iam: the role trusting this org's external ID sets up; another org with the same role is refused", async () => {
    const org = uniqueOrg("aws-iam");
    const c = api(createOrg(inject("dataDir"), org));
    const externalId = (await c.get(`/integrations/${org}/aws_iam/setup-info`)).body.aws.external_id;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    const ok = await c.post(`/integrations/${org}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "assumed_role" });
    expect(aws.assumeRoleCalls.at(-1)).toMatchObject({ externalId });

    const intruder = uniqueOrg("aws-intruder");
    const ci = api(createOrg(inject("dataDir"), intruder));
    const denied = await ci.post(`/integrations/${intruder}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN } });
    expect(denied.status).toBe(422);
    expect(denied.body.error.connection_test.outcome).toBe("permission_denied");
    expect(denied.body.error.message).toMatch(/external ID/i);

    const bedrock = await c.post(`/integrations/${org}/aws_bedrock/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN, region: "us-east-1" } });
    expect(bedrock.status, bedrock.text).toBe(201);

    aws.trustRole(FAKE_AWS_ROLE_ARN_NO_PERMISSIONS, externalId, { ce: false, bedrock: false });
    const noCe = await c.post(`/integrations/${org}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN_NO_PERMISSIONS } });
    expect(noCe.status).toBe(422);
    expect(noCe.body.error.message).toContain("ce:GetCostAndUsage");
    expect((await c.get(`/integrations/${org}`)).body.integrations.find((i: { provider: string }) => i.provider === "aws_iam").version).toBe(1);
  });

  it("aws_keys: a key with Cost Explorer access is active; without it 422; a wrong secret is auth_failed; nothing leaks", async () => {
    const org = uniqueOrg("aws-keys");
    const c = api(createOrg(inject("dataDir"), org));
    const ok = await c.post(`/integrations/${org}/aws_keys/setup`, {
      credential: { access_key_id: FAKE_AWS_KEYS.accessKeyId, secret_access_key: FAKE_AWS_KEYS.secretAccessKey },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body).toMatchObject({ status: "active", key_kind: "long_term", account: { id: FAKE_AWS_KEYS.account } });
    const signed = aws.requests.filter((r) => r.aws?.accessKeyId === FAKE_AWS_KEYS.accessKeyId);
    expect(signed.length).toBeGreaterThanOrEqual(2);
    expect(signed.every((r) => r.aws?.signatureValid)).toBe(true);

    const noCe = await c.post(`/integrations/${org}/aws_keys/setup`, {
      credential: { access_key_id: FAKE_AWS_KEYS_NO_CE.accessKeyId, secret_access_key: FAKE_AWS_KEYS_NO_CE.secretAccessKey },
    });
    expect(noCe.status).toBe(422);
    expect(noCe.body.error.connection_test.outcome).toBe("permission_denied");

    const wrong = await c.post(`/integrations/${org}/aws_keys/setup`, {
      credential: { access_key_id: FAKE_AWS_KEYS.accessKeyId, secret_access_key: `${FAKE_AWS_KEYS.secretAccessKey.slice(0, -4)}XXXX` },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.connection_test.outcome).toBe("auth_failed");
    for (const r of [ok, noCe, wrong]) expect(r.text).not.toContain(FAKE_AWS_KEYS.secretAccessKey.slice(8, 24));
    expect((await c.get(`/integrations/${org}`)).body.integrations[0].fingerprint).toBe(ok.body.fingerprint);
  });
});
