import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { startAwsFake, type AwsFake } from "@/tests/fakes/aws";
import { startGcpFake, type GcpFake } from "@/tests/fakes/gcp";
import { makeServiceAccountKey } from "@/tests/fakes/gcp-keys";
import { makeOciApiKey } from "@/tests/fakes/oci-keys";
import { FAKE_OPENAI_ADMIN_KEY } from "@/tests/fakes/keys";
import { FAKE_AWS_PLATFORM_ENV, FAKE_AWS_ROLE_ARN } from "@/tests/fakes/aws-keys";
import { authenticate, clearAuthenticationCache } from "./authenticate";
import { deleteIntegration } from "./delete-integration";
import { setupIntegration } from "./setup-integration";
import { AppError } from "../errors";
import { WindowRateLimiter } from "../rate-limit";

/**
 * The pipelines' authenticate(): what each protocol hands a pipeline, cached no longer than its
 * own expiry (fake clock), keyed by credential version, failures never cached.
 */
const MIN = 60_000;
let openai: OpenAIFake;
let aws: AwsFake;
let gcp: GcpFake;
let core: TestCore;
const savedEnv = { ...process.env };

beforeAll(async () => {
  openai = await startOpenAIFake();
  aws = await startAwsFake();
  gcp = await startGcpFake();
  Object.assign(process.env, FAKE_AWS_PLATFORM_ENV, { AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
  core = await makeCore({
    env: {
      OPENAI_API_BASE: openai.url,
      AWS_STS_ENDPOINT: aws.url,
      AWS_CE_ENDPOINT: aws.url,
      GOOGLE_OAUTH_TOKEN_URL: `${gcp.url}/token`,
      GOOGLE_CRM_API_BASE: gcp.url,
      CONNECTION_TEST_TIMEOUT_MS: "3000",
      // Longer than a token's life, so the token's own expiry is what bounds the cache.
      CREDENTIAL_CACHE_TTL_MS: String(120 * MIN),
    },
  });
  core.clock.t = Date.now(); // the fakes stamp expiries with the real clock
  await core.addOrg("acme");
});

beforeEach(() => {
  core.clock.t = Date.now(); // the fakes stamp expiries with the real clock
});
afterEach(() => clearAuthenticationCache());

afterAll(async () => {
  await core.close();
  await Promise.all([openai.close(), aws.close(), gcp.close()]);
  process.env = savedEnv;
});

async function setup(provider: string, credential: Record<string, unknown>) {
  return setupIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider, input: { credential } }, core.deps);
}

describe("authenticate()", () => {
  it("GenAI: the API key with the headers the provider expects, cached (no store read on a hit)", async () => {
    await setup("openai", { api_key: FAKE_OPENAI_ADMIN_KEY });
    const a = await authenticate("acme", "openai", core.deps);
    expect(a).toMatchObject({ kind: "api_key", api_key: FAKE_OPENAI_ADMIN_KEY, base_url: openai.url, headers: { authorization: `Bearer ${FAKE_OPENAI_ADMIN_KEY}` } });
    const reads = core.store.calls.get;
    expect(await authenticate("acme", "openai", core.deps)).toBe(a);
    expect(core.store.calls.get).toBe(reads);
  });

  it("AWS role: temporary credentials from AssumeRole with the org's external ID, renewed before they expire, never after", async () => {
    const externalId = (await core.deps.auth.getOrg("acme"))!.externalId;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    await setup("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN });
    const before = aws.assumeRoleCalls.length;
    const a = await authenticate("acme", "aws_iam", core.deps);
    expect(a.kind).toBe("aws");
    if (a.kind !== "aws") return;
    expect(a.credentials.accessKeyId).toMatch(/^ASIA/);
    expect(a.credentials.sessionToken).toBeTruthy();
    expect(aws.assumeRoleCalls.length).toBe(before + 1);
    expect(aws.assumeRoleCalls.at(-1)).toMatchObject({ externalId });
    const life = Date.parse(a.expires_at!) - core.clock.t;

    core.clock.advance(life - 6 * MIN); // still more than the 5-minute margin left
    expect(await authenticate("acme", "aws_iam", core.deps)).toBe(a);
    expect(aws.assumeRoleCalls.length).toBe(before + 1);

    core.clock.advance(2 * MIN); // inside the margin: renew
    const b = await authenticate("acme", "aws_iam", core.deps);
    expect(b).not.toBe(a);
    expect(aws.assumeRoleCalls.length).toBe(before + 2);
  });

  it("Google: an access token from the pinned token endpoint, cached until shortly before it expires", async () => {
    const sa = makeServiceAccountKey({ projectId: "finops-auth-1", tokenUri: "http://127.0.0.1:9/never" });
    gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: "finops-auth-1", permissions: ["bigquery.jobs.create", "bigquery.tables.getData"] });
    await setup("gcp", { service_account_json: sa.keyFile });
    const tokensBefore = gcp.tokenRequests.length;
    const a = await authenticate("acme", "gcp", core.deps);
    expect(a).toMatchObject({ kind: "google_access_token", project_id: "finops-auth-1" });
    expect(gcp.tokenRequests.length).toBe(tokensBefore + 1);
    expect(gcp.tokenRequests.at(-1)!.signatureVerified).toBe(true);
    expect(await authenticate("acme", "gcp", core.deps)).toBe(a);
    core.clock.advance(56 * MIN);
    const b = await authenticate("acme", "gcp", core.deps);
    expect(b).not.toBe(a);
    expect(gcp.tokenRequests.length).toBe(tokensBefore + 2);
  });

  it("a replaced credential is never served from the old authentication (version in the key)", async () => {
    await setup("saas_vendor", { display_name: "Vendor", api_key: "first-secret-value" });
    const a = await authenticate("acme", "saas_vendor", core.deps);
    expect(a).toMatchObject({ kind: "manual", fields: { api_key: "first-secret-value" } });
    await setup("saas_vendor", { display_name: "Vendor", api_key: "second-secret-value" });
    expect(await authenticate("acme", "saas_vendor", core.deps)).toMatchObject({ fields: { api_key: "second-secret-value" } });
  });

  it("a credential deleted and set up again is never served from the deleted one's authentication (the version starts again at 1)", async () => {
    expect((await setup("saas_rebuilt", { display_name: "Vendor", api_key: "deleted-secret-value" })).integration.version).toBe(1);
    expect(await authenticate("acme", "saas_rebuilt", core.deps)).toMatchObject({ fields: { api_key: "deleted-secret-value" } });
    await deleteIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider: "saas_rebuilt" }, core.deps);
    const again = await setup("saas_rebuilt", { display_name: "Vendor", api_key: "new-secret-value" });
    expect(again.integration.version).toBe(1);
    expect(await authenticate("acme", "saas_rebuilt", core.deps)).toMatchObject({ fields: { api_key: "new-secret-value" } });
  });

  it("failures are not cached: STS down → provider_unreachable with a fixed message; back up → works", async () => {
    const externalId = (await core.deps.auth.getOrg("acme"))!.externalId;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    await setup("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "us-east-1" }).catch(() => undefined);
    aws.setMode("unavailable", { service: "sts" });
    try {
      const err = await authenticate("acme", "aws_iam", core.deps).catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("provider_unreachable");
    } finally {
      aws.setMode("normal", { service: "sts" });
    }
    expect((await authenticate("acme", "aws_iam", core.deps)).kind).toBe("aws");
  });

  it("is paced on the org's provider budget, which connection tests share: spent → rate_limited, nothing sent, not cached", async () => {
    const externalId = (await core.deps.auth.getOrg("acme"))!.externalId;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    const saved = core.deps.providerLimiter;
    const window = new WindowRateLimiter(1);
    core.deps.providerLimiter = { take: (key, now) => window.take(key, now, 1) }; // one call a minute
    try {
      await setup("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }); // its connection test spends the unit
      const sent = aws.requests.length;
      const err = await authenticate("acme", "aws_iam", core.deps).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("rate_limited");
      expect((err as AppError).extra.retryAfterS).toBeGreaterThan(0);
      expect(aws.requests.length).toBe(sent); // AssumeRole was not sent
      core.clock.advance(MIN);
      expect((await authenticate("acme", "aws_iam", core.deps)).kind).toBe("aws");
      expect(aws.requests.length).toBeGreaterThan(sent);
    } finally {
      core.deps.providerLimiter = saved;
    }
  });

  it("OCI: request-signing material (key id and the decrypted PEM), nothing fetched", async () => {
    const key = makeOciApiKey({ seed: "auth", passphrase: "correct horse" });
    const row = { ...key.credential, passphrase: "correct horse" };
    // Store directly: the OCI connection test is covered elsewhere; this is about the runtime.
    const { canonicalize, fingerprintOf } = await import("../kms/fingerprint");
    const credentialId = "00000000-0000-4000-8000-000000000001";
    const enc = await core.deps.cipher.encrypt(Buffer.from(JSON.stringify(row)), { org: "acme", provider: "oci", credentialId });
    const at = new Date(core.clock.t).toISOString();
    await core.deps.store.put(
      { org: "acme", provider: "oci", credentialId, ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion, fingerprint: fingerprintOf(canonicalize(row), core.deps.pepper), status: "active", keyKind: "api_key", metadata: {}, account: null, version: 1, createdAt: at, updatedAt: at, lastValidatedAt: at, lastError: null },
      null,
    );
    const a = await authenticate("acme", "oci", core.deps);
    expect(a).toMatchObject({ kind: "oci_request_signing", key_id: `${key.credential.tenancy_ocid}/${key.credential.user_ocid}/${key.fingerprint}`, region: key.credential.region });
    if (a.kind === "oci_request_signing") expect(a.private_key_pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("an integration that is not active is refused", async () => {
    await setup("saas_inactive", { display_name: "Inactive" });
    await core.raw.store.update("acme", "saas_inactive", 1, { status: "invalid" });
    core.deps.cache.invalidate("acme", "saas_inactive");
    const err = await authenticate("acme", "saas_inactive", core.deps).catch((e) => e);
    expect((err as AppError).code).toBe("connection_test_failed");
    expect((err as AppError).message).toContain("invalid");
  });
});
