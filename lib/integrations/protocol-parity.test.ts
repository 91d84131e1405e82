import crypto from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { startProviderFakes, type ProviderFakes } from "@/tests/fakes";
import { FAKE_ANTHROPIC_ADMIN_KEY, FAKE_GEMINI_KEY, FAKE_OPENAI_ADMIN_KEY } from "@/tests/fakes/keys";
import { startGcpFake, type GcpFake } from "@/tests/fakes/gcp";
import { makeServiceAccountKey } from "@/tests/fakes/gcp-keys";
import { startAwsFake, type AwsFake } from "@/tests/fakes/aws";
import { FAKE_AWS_KEYS, FAKE_AWS_PLATFORM_ENV, FAKE_AWS_ROLE_ARN } from "@/tests/fakes/aws-keys";
import { startAzureFakes, type AzureFakes } from "@/tests/fakes/azure";
import { FAKE_AZURE_APP, FAKE_AZURE_OPENAI_ENDPOINT, FAKE_AZURE_SUBSCRIPTION_ID } from "@/tests/fakes/azure-keys";
import { removeTestCa, trustCaInProcess } from "@/tests/fakes/tls";
import { startOciFake, type OciFake } from "@/tests/fakes/oci";
import { makeOciApiKey } from "@/tests/fakes/oci-keys";
import { authenticate, clearAuthenticationCache } from "./authenticate";
import { setupIntegration } from "./setup-integration";
import { getCredential } from "./get-credential";
import { ociKeyFingerprint } from "./protocols/oci";
import { CONNECTION_TEST_KINDS } from "./registry-schema";
import { listProviders } from "./registry";

/**
 * For every provider: the pipeline's authenticate() and the connection test use the same scopes,
 * the same endpoints and the same normalized key. Each provider is set up through the core (format
 * check → connection test against a verifying fake), then authenticated; what each side sent is
 * read back from the fakes and compared.
 */

let core: TestCore;
let genai: ProviderFakes;
let gcp: GcpFake;
let aws: AwsFake;
let azure: AzureFakes;
let oci: OciFake;
let untrust: () => void;
const saved = { ...process.env };

beforeAll(async () => {
  [genai, gcp, aws, azure, oci] = await Promise.all([startProviderFakes(), startGcpFake(), startAwsFake(), startAzureFakes(), startOciFake()]);
  untrust = trustCaInProcess(azure.caPem);
  Object.assign(process.env, FAKE_AWS_PLATFORM_ENV, { AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
  core = await makeCore({
    env: {
      ...genai.env,
      GOOGLE_OAUTH_TOKEN_URL: gcp.tokenUrl,
      GOOGLE_CRM_API_BASE: gcp.crmApiBase,
      GOOGLE_BIGQUERY_API_BASE: gcp.bigqueryApiBase,
      AWS_STS_ENDPOINT: aws.url,
      AWS_CE_ENDPOINT: aws.url,
      AWS_BEDROCK_ENDPOINT: aws.url,
      AZURE_AUTHORITY_HOST: azure.authorityUrl,
      AZURE_MANAGEMENT_BASE: azure.managementUrl,
      AZURE_OPENAI_ENDPOINT_OVERRIDE: azure.openaiUrl,
      OCI_IDENTITY_ENDPOINT: oci.url,
      OCI_USAGE_ENDPOINT: oci.url,
      CONNECTION_TEST_TIMEOUT_MS: "5000",
      ORG_RATE_LIMIT_PER_MINUTE: "1000",
    },
  });
  core.clock.t = Date.now(); // the fakes check signed dates and token expiries with the real clock
  await core.addOrg("acme");
});

beforeEach(() => {
  core.clock.t = Date.now();
  clearAuthenticationCache();
});

afterAll(async () => {
  untrust?.();
  await core.close();
  await Promise.all([genai.close(), gcp.close(), aws.close(), azure.close(), oci.close()]);
  removeTestCa();
  process.env = saved;
});

async function setup(provider: string, credential: Record<string, unknown>, metadata?: Record<string, unknown>) {
  const r = await setupIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider, input: { credential, ...(metadata ? { metadata } : {}) } }, core.deps);
  expect(r.connection_test.outcome, JSON.stringify(r.connection_test)).toBe(provider.startsWith("saas_") ? "skipped" : "ok");
  return r;
}

const covered = new Set<string>();

describe("authenticate() and the connection test agree, for every provider", () => {
  it("GenAI keys (openai, anthropic, gemini): the same key, headers and base URL the test used", async () => {
    const cases = [
      ["openai", FAKE_OPENAI_ADMIN_KEY, genai.openai, "authorization", `Bearer ${FAKE_OPENAI_ADMIN_KEY}`],
      ["anthropic", FAKE_ANTHROPIC_ADMIN_KEY, genai.anthropic, "x-api-key", FAKE_ANTHROPIC_ADMIN_KEY],
      ["gemini", FAKE_GEMINI_KEY, genai.gemini, "x-goog-api-key", FAKE_GEMINI_KEY],
    ] as const;
    for (const [provider, key, fake, header, value] of cases) {
      fake.clearRequests();
      // Pasted with stray whitespace: the format check trims it once; both sides use the trimmed key.
      await setup(provider, { api_key: `  ${key}\n` });
      const sent = fake.requests.at(-1)!;
      expect(sent.headers[header], provider).toBe(value);
      const a = await authenticate("acme", provider, core.deps);
      if (a.kind !== "api_key") throw new Error(provider);
      expect(a.api_key).toBe(key);
      expect(a.base_url).toBe(fake.url);
      expect(a.headers[header]).toBe(value);
      if (provider === "anthropic") expect(a.headers["anthropic-version"]).toBe(sent.headers["anthropic-version"]);
      covered.add(provider);
    }
  });

  it("Google (gcp, gcp_vertex): the same token endpoint, scope, issuer and key (a PEM pasted with \\n escapes signs on both sides)", async () => {
    for (const provider of ["gcp", "gcp_vertex"]) {
      const sa = makeServiceAccountKey({ projectId: `parity-${provider.replace("_", "-")}`, tokenUri: "http://127.0.0.1:9/never" });
      const permissions = provider === "gcp" ? ["bigquery.jobs.create"] : ["aiplatform.endpoints.list", "bigquery.jobs.create"];
      gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: sa.keyFile.project_id, permissions });
      gcp.tokenRequests.length = 0;
      const escaped = { ...sa.keyFile, private_key: sa.keyFile.private_key.replace(/\n/g, "\\n") };
      await setup(provider, { service_account_json: escaped });
      const byTest = gcp.tokenRequests.at(-1)!;
      const a = await authenticate("acme", provider, core.deps);
      const byPipeline = gcp.tokenRequests.at(-1)!;
      expect(byPipeline).not.toBe(byTest);
      for (const r of [byTest, byPipeline]) expect(r).toMatchObject({ signatureVerified: true, error: null });
      for (const claim of ["iss", "scope", "aud"]) expect(byPipeline.claims![claim], claim).toEqual(byTest.claims![claim]);
      expect(a).toMatchObject({ kind: "google_access_token", project_id: sa.keyFile.project_id, access_token: byPipeline.accessToken });
      // The stored key is the canonical one both sides signed with.
      const stored = (await getCredential("acme", provider, core.deps)).credential.service_account_json as Record<string, string>;
      expect(stored.private_key).toBe(sa.keyFile.private_key);
      covered.add(provider);
    }
  });

  it("AWS roles (aws_iam, aws_bedrock): the same STS endpoint, role, external ID and region", async () => {
    const externalId = (await core.deps.auth.getOrg("acme"))!.externalId;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    for (const [provider, credential] of [
      ["aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }],
      ["aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "eu-central-1" }],
    ] as const) {
      aws.clearRequests();
      await setup(provider, credential);
      const testCall = aws.assumeRoleCalls.at(-1)!;
      const testSts = aws.requests.filter((r) => r.aws?.operation === "AssumeRole").at(-1)!;
      const a = await authenticate("acme", provider, core.deps);
      const pipeCall = aws.assumeRoleCalls.at(-1)!;
      const pipeSts = aws.requests.filter((r) => r.aws?.operation === "AssumeRole").at(-1)!;
      expect(pipeCall).not.toBe(testCall);
      expect(pipeCall).toMatchObject({ roleArn: testCall.roleArn, externalId: testCall.externalId });
      expect(pipeCall.externalId).toBe(externalId);
      expect(pipeSts.aws!.region).toBe(testSts.aws!.region);
      expect(pipeSts.aws!.accessKeyId).toBe(testSts.aws!.accessKeyId);
      if (a.kind !== "aws") throw new Error(provider);
      if (provider === "aws_bedrock") expect(a.region).toBe("eu-central-1");
      covered.add(provider);
    }
  });

  it("AWS keys (aws_keys): the pipeline's credentials come from the same access key the test proved", async () => {
    aws.clearRequests();
    // The region metadata key names the key's partition (here China): both sides sign for that partition's STS.
    await setup("aws_keys", { access_key_id: ` ${FAKE_AWS_KEYS.accessKeyId} `, secret_access_key: FAKE_AWS_KEYS.secretAccessKey }, { region: "cn-north-1" });
    const byTest = aws.requests.find((r) => r.aws?.operation === "GetCallerIdentity")!.aws!;
    expect(byTest.accessKeyId).toBe(FAKE_AWS_KEYS.accessKeyId);
    expect(byTest.region).toBe("cn-northwest-1");
    const a = await authenticate("acme", "aws_keys", core.deps);
    if (a.kind !== "aws") throw new Error("aws_keys");
    // Temporary credentials STS issued to exactly that key, at the same STS (signing region).
    const byPipeline = aws.requests.filter((r) => r.aws?.operation === "GetSessionToken").at(-1)!.aws!;
    expect(byPipeline.accessKeyId).toBe(byTest.accessKeyId);
    expect(byPipeline.region).toBe(byTest.region);
    expect(a.region).toBe("cn-north-1");
    expect(a.credentials.accessKeyId).not.toBe(FAKE_AWS_KEYS.accessKeyId);
    covered.add("aws_keys");
  });

  it("Azure (azure): the token scope the test proved on Cost Management", async () => {
    azure.tokens.length = 0;
    await setup("azure", { ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID });
    const testAudience = azure.tokens.at(-1)!.audience;
    const a = await authenticate("acme", "azure", core.deps);
    if (a.kind !== "azure_access_token") throw new Error("azure");
    expect(a.scope).toBe(`${testAudience}/.default`);
    expect(azure.tokens.at(-1)!.audience).toBe(testAudience);
    covered.add("azure");
  });

  for (const [label, accepted, scope] of [
    ["the v1 scope", [], "https://ai.azure.com/.default"],
    ["the Cognitive Services fallback, when the resource refuses the v1 token", ["https://cognitiveservices.azure.com"], "https://cognitiveservices.azure.com/.default"],
  ] as const) {
    it(`Azure OpenAI (azure_openai): the pipeline gets a token for ${label}, as the test proved`, async () => {
      azure.setOpenAIAcceptedAudiences([...accepted]);
      try {
        azure.tokens.length = 0;
        await setup("azure_openai", { ...FAKE_AZURE_APP, endpoint: FAKE_AZURE_OPENAI_ENDPOINT });
        const proven = azure.tokens.at(-1)!.audience;
        expect(`${proven}/.default`).toBe(scope);
        const a = await authenticate("acme", "azure_openai", core.deps);
        if (a.kind !== "azure_access_token") throw new Error("azure_openai");
        expect(a.scope).toBe(scope);
        expect(azure.tokens.find((t) => t.token === a.access_token)!.audience).toBe(proven);
        expect(a.endpoint).toBe(azure.openaiUrl);
      } finally {
        azure.setOpenAIAcceptedAudiences([]);
      }
      covered.add("azure_openai");
    });
  }

  it("OCI (oci): the signing key the pipeline gets is the key the test signed with (canonical PEM), same region", async () => {
    const key = makeOciApiKey({ seed: "parity" });
    oci.registerUser({ tenancy: key.credential.tenancy_ocid, user: key.credential.user_ocid, fingerprint: key.fingerprint, publicKeyPem: key.publicKeyPem, name: "parity" });
    oci.verifications.length = 0;
    await setup("oci", { ...key.credential, private_key: key.credential.private_key.replace(/\n/g, "\\n") });
    const signedBy = oci.verifications.filter((v) => v.ok).map((v) => v.keyId);
    expect(signedBy.length).toBeGreaterThan(0);
    const a = await authenticate("acme", "oci", core.deps);
    if (a.kind !== "oci_request_signing") throw new Error("oci");
    expect(signedBy.every((k) => k === a.key_id)).toBe(true);
    expect(ociKeyFingerprint(crypto.createPrivateKey(a.private_key_pem))).toBe(key.fingerprint);
    expect(a.region).toBe(key.credential.region);
    covered.add("oci");
  });

  it("manual SaaS entries: the pipeline gets the stored, normalized fields", async () => {
    await setup("saas_parity", { display_name: " Parity Vendor ", api_key: "vendor-secret-value" });
    const a = await authenticate("acme", "saas_parity", core.deps);
    expect(a).toMatchObject({ kind: "manual", fields: { display_name: "Parity Vendor", api_key: "vendor-secret-value" } });
    covered.add("saas");
  });

  it("every provider and every protocol kind in the registry was compared above", () => {
    const ids = listProviders().map((p) => p.id);
    expect([...covered].sort()).toEqual([...ids].sort());
    const kinds = new Set(listProviders().map((p) => p.connection_test.kind));
    expect([...kinds].sort()).toEqual([...CONNECTION_TEST_KINDS].sort());
  });
});
