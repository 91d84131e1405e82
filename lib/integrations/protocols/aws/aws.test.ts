import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { startAwsFake, type AwsFake, type AwsRecordedRequest } from "@/tests/fakes/aws";
import {
  FAKE_AWS_CUSTOMER_ACCOUNT,
  FAKE_AWS_EXPIRED_KEYS,
  FAKE_AWS_IDENTITIES,
  FAKE_AWS_KEYS,
  FAKE_AWS_KEYS_NO_CE,
  FAKE_AWS_PLATFORM,
  FAKE_AWS_PLATFORM_ENV,
  FAKE_AWS_ROLE_ACCOUNT,
  FAKE_AWS_ROLE_ARN,
  FAKE_AWS_ROLE_ARN_NO_PERMISSIONS,
  FAKE_AWS_ROLE_ARN_UNTRUSTED,
  FAKE_AWS_TEMPORARY_KEYS,
  FAKE_AWS_UNKNOWN_KEYS,
} from "@/tests/fakes/aws-keys";

import {
  AWS_NO_PLATFORM_IDENTITY_MESSAGE,
  awsKeyKind,
  ceTarget,
  classifyAwsError,
  parseRoleArn,
  roleSessionName,
  stsTarget,
  testAwsAccessKeys,
  testAwsAssumeRole,
} from "./index";
import { resolveEndpoints, runAuthenticate, runConnectionTest } from "../index";
import { resolveProvider } from "../../registry";
import type { ConnectionTestContext, ConnectionTestResult } from "../types";
import { AppError } from "@/lib/errors";
import { tinyBudget } from "@/tests/support/pacing";

const EXTERNAL_ID = "acme-7Hq2ZpW9vKd3LxN5";
const WRONG_SECRET = "fake_Wr0ngSecretValueThatIsNotTheRealOne1";

const NAMES: Record<string, string> = {
  aws_keys: "AWS (access keys)",
  aws_iam: "AWS (IAM role)",
  aws_bedrock: "AWS Bedrock",
};

// Every AWS variable the SDK's default chain or config loaders read: saved, cleared, restored.
const AWS_ENV = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_ACCOUNT_ID",
  "AWS_PROFILE",
  "AWS_DEFAULT_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_BEARER_TOKEN_BEDROCK",
  "AWS_AUTH_SCHEME_PREFERENCE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_STS",
  "AWS_MAX_ATTEMPTS",
] as const;
const savedEnv: Record<string, string | undefined> = {};

let fake: AwsFake;
let tmpDir: string;

function setPlatformIdentity(identity: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string } | null): void {
  if (identity) {
    process.env.AWS_ACCESS_KEY_ID = identity.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = identity.AWS_SECRET_ACCESS_KEY;
  } else {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  }
}

beforeAll(async () => {
  for (const name of AWS_ENV) {
    savedEnv[name] = process.env[name];
    delete process.env[name];
  }
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "aws-conn-test-"));
  const config = path.join(tmpDir, "config");
  const credentials = path.join(tmpDir, "credentials");
  fs.writeFileSync(config, "");
  fs.writeFileSync(credentials, "");
  // Never read the developer's ~/.aws, never probe instance metadata, no Node version warning.
  process.env.AWS_CONFIG_FILE = config;
  process.env.AWS_SHARED_CREDENTIALS_FILE = credentials;
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  setPlatformIdentity(FAKE_AWS_PLATFORM_ENV);

  fake = await startAwsFake();
  fake.trustRole(FAKE_AWS_ROLE_ARN, EXTERNAL_ID, { ce: true, bedrock: true });
  fake.trustRole(FAKE_AWS_ROLE_ARN_NO_PERMISSIONS, EXTERNAL_ID, { ce: false, bedrock: false });
});

afterAll(async () => {
  await fake?.close();
  for (const name of AWS_ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.setMode("normal");
  fake.clearRequests();
  setPlatformIdentity(FAKE_AWS_PLATFORM_ENV);
});

function ctxFor(
  provider: "aws_keys" | "aws_iam" | "aws_bedrock",
  credential: Record<string, unknown>,
  overrides: Partial<ConnectionTestContext> = {},
): ConnectionTestContext {
  return {
    provider,
    providerName: NAMES[provider] ?? provider,
    credential,
    endpoints: { sts_endpoint: fake.url, ce_endpoint: fake.url, bedrock_endpoint: fake.url },
    timeoutMs: 5000,
    fetch: globalThis.fetch,
    pace: async () => {},
    now: () => Date.now(),
    org: "acme",
    externalId: EXTERNAL_ID,
    ...overrides,
  };
}

const keysOf = (id: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => ({
  access_key_id: id.accessKeyId,
  secret_access_key: id.secretAccessKey,
  ...(id.sessionToken ? { session_token: id.sessionToken } : {}),
});

/** Every secret the tests know, including the role credentials the fake issued. */
function knownSecrets(): string[] {
  return [
    ...FAKE_AWS_IDENTITIES.flatMap((i) => [i.secretAccessKey, i.sessionToken ?? ""]),
    ...fake.issued.flatMap((i) => [i.secretAccessKey, i.sessionToken ?? ""]),
    FAKE_AWS_UNKNOWN_KEYS.secretAccessKey,
    WRONG_SECRET,
  ].filter((s) => s.length >= 8);
}

/** No message (check or overall) contains any 8-character run of a known secret. */
function expectNoSecrets(result: ConnectionTestResult): void {
  const secrets = knownSecrets();
  const texts = [JSON.stringify(result), ...result.checks.map((c) => c.message ?? "")];
  for (const text of texts) {
    for (const secret of secrets) {
      for (let i = 0; i + 8 <= secret.length; i++) {
        const run = secret.slice(i, i + 8);
        if (text.includes(run)) throw new Error(`a message contains part of a secret: ${JSON.stringify(run)}`);
      }
    }
  }
}

async function run(
  test: typeof testAwsAccessKeys,
  ctx: ConnectionTestContext,
): Promise<ConnectionTestResult> {
  const result = await test(ctx);
  expectNoSecrets(result);
  return result;
}

const outcomes = (r: ConnectionTestResult) => r.checks.map((c) => `${c.name}:${c.outcome}`);
const awsRequests = (): AwsRecordedRequest[] => fake.requests.filter((r) => r.aws);

async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------------------------------------

describe("aws_keys (GetCallerIdentity + one-day GetCostAndUsage)", () => {
  it("a long-term key with Cost Explorer access is ok; account and key_kind recorded", async () => {
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS)));
    expect(result.outcome).toBe("ok");
    expect(outcomes(result)).toEqual(["authenticate:ok", "read_costs:ok"]);
    expect(result.account).toEqual({ id: FAKE_AWS_CUSTOMER_ACCOUNT, name: FAKE_AWS_KEYS.arn });
    expect(result.key_kind).toBe("long_term");

    // Exactly one call per service (maxAttempts 1), each SigV4-signed with the key and verified.
    const reqs = awsRequests();
    expect(reqs.map((r) => [r.aws?.service, r.aws?.operation, r.aws?.result])).toEqual([
      ["sts", "GetCallerIdentity", "ok"],
      ["ce", "GetCostAndUsage", "ok"],
    ]);
    for (const r of reqs) {
      expect(r.headers.authorization).toMatch(
        new RegExp(`^AWS4-HMAC-SHA256 Credential=${FAKE_AWS_KEYS.accessKeyId}/\\d{8}/us-east-1/(sts|ce)/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`),
      );
      expect(r.aws?.signed).toBe(true);
      expect(r.aws?.signatureValid).toBe(true);
    }
    expect(reqs[0]?.body).toContain("Action=GetCallerIdentity");
    expect(reqs[1]?.headers["x-amz-target"]).toBe("AWSInsightsIndexService.GetCostAndUsage");
    const ceBody = JSON.parse(reqs[1]?.body ?? "{}") as { TimePeriod: { Start: string; End: string }; Granularity: string };
    expect(ceBody.Granularity).toBe("DAILY");
    expect(Date.parse(ceBody.TimePeriod.End) - Date.parse(ceBody.TimePeriod.Start)).toBe(86_400_000);
  });

  it("a temporary ASIA key sends its session token and is key_kind temporary", async () => {
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_TEMPORARY_KEYS)));
    expect(result.outcome).toBe("ok");
    expect(result.key_kind).toBe("temporary");
    expect(result.account?.id).toBe(FAKE_AWS_CUSTOMER_ACCOUNT);
    for (const r of awsRequests()) {
      expect(r.aws?.sessionToken).toBe(FAKE_AWS_TEMPORARY_KEYS.sessionToken);
      expect(r.aws?.signatureValid).toBe(true);
    }
  });

  it("a wrong secret → auth_failed via SignatureDoesNotMatch (the fake verified the signature)", async () => {
    const result = await run(
      testAwsAccessKeys,
      ctxFor("aws_keys", { access_key_id: FAKE_AWS_KEYS.accessKeyId, secret_access_key: WRONG_SECRET }),
    );
    expect(result.outcome).toBe("auth_failed");
    expect(outcomes(result)).toEqual(["authenticate:auth_failed", "read_costs:skipped"]);
    expect(result.checks[0]?.message).toMatch(/secret access key does not match the access key ID \(SignatureDoesNotMatch\)/);
    expect(result.account).toBeNull();
    const [req] = awsRequests();
    expect(req?.aws).toMatchObject({ signed: true, signatureValid: false, result: "SignatureDoesNotMatch" });
  });

  it("an unknown access key id → auth_failed via InvalidClientTokenId", async () => {
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_UNKNOWN_KEYS)));
    expect(result.outcome).toBe("auth_failed");
    expect(result.checks[0]?.message).toMatch(/does not recognise this access key ID \(InvalidClientTokenId\): check it was copied whole and is active/);
    expect(awsRequests()[0]?.aws?.result).toBe("InvalidClientTokenId");
  });

  it("a temporary key with the wrong session token → auth_failed with a session-token hint", async () => {
    const result = await run(
      testAwsAccessKeys,
      ctxFor("aws_keys", { ...keysOf(FAKE_AWS_TEMPORARY_KEYS), session_token: FAKE_AWS_EXPIRED_KEYS.sessionToken }),
    );
    expect(result.outcome).toBe("auth_failed");
    expect(result.key_kind).toBe("temporary");
    expect(result.checks[0]?.message).toMatch(/session token/);
  });

  it("an expired session → expired", async () => {
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_EXPIRED_KEYS)));
    expect(result.outcome).toBe("expired");
    expect(outcomes(result)).toEqual(["authenticate:expired", "read_costs:skipped"]);
    expect(result.checks[0]?.message).toMatch(/expired \(ExpiredToken\)/);
  });

  it("a key without Cost Explorer access → permission_denied with the ce:GetCostAndUsage hint", async () => {
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS_NO_CE)));
    expect(result.outcome).toBe("permission_denied");
    expect(outcomes(result)).toEqual(["authenticate:ok", "read_costs:permission_denied"]);
    expect(result.checks[1]?.message).toMatch(/Grant ce:GetCostAndUsage/);
    expect(result.checks[1]?.message).toMatch(/AccessDeniedException/);
    // The identity was still discovered.
    expect(result.account).toEqual({ id: FAKE_AWS_CUSTOMER_ACCOUNT, name: FAKE_AWS_KEYS_NO_CE.arn });
  });

  it("throttled → rate_limited with retry_after_s from Retry-After", async () => {
    fake.setMode("throttled", { retryAfterS: 7 });
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS)));
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(result.checks[0]?.message).toMatch(/throttling requests \(Throttling\)\. Try again in 7 s/);
    expect(awsRequests()).toHaveLength(1); // no SDK retries
  });

  it("Cost Explorer throttling without Retry-After → rate_limited, retry_after_s 60", async () => {
    fake.setMode("throttled", { service: "ce", retryAfterS: null });
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS)));
    expect(outcomes(result)).toEqual(["authenticate:ok", "read_costs:rate_limited"]);
    expect(result.retry_after_s).toBe(60);
    expect(result.checks[1]?.message).toMatch(/LimitExceededException/);
    expect(awsRequests().filter((r) => r.aws?.service === "ce")).toHaveLength(1);
  });

  it("503 → provider_error", async () => {
    fake.setMode("unavailable");
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS)));
    expect(result.outcome).toBe("provider_error");
    expect(result.checks[0]?.message).toMatch(/answered 503 \(ServiceUnavailable\): this is on AWS's side/);
    expect(awsRequests()).toHaveLength(1);
  });

  it("a hanging endpoint with timeoutMs 300 → timeout, quickly", async () => {
    fake.setMode("hang");
    const started = Date.now();
    const result = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS), { timeoutMs: 300 }));
    expect(result.outcome).toBe("timeout");
    expect(result.checks[0]?.message).toMatch(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a closed port → network", async () => {
    const url = await closedPortUrl();
    const result = await run(
      testAwsAccessKeys,
      ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS), { endpoints: { sts_endpoint: url, ce_endpoint: url } }),
    );
    expect(result.outcome).toBe("network");
    expect(result.checks[0]?.message).toMatch(/connection refused \(ECONNREFUSED\)/);
  });
});

describe("the fake verifies SigV4", () => {
  it("accepts a replay of a correctly signed request and rejects it once one byte changed", async () => {
    const ok = await run(testAwsAccessKeys, ctxFor("aws_keys", keysOf(FAKE_AWS_KEYS)));
    expect(ok.outcome).toBe("ok");
    const original = awsRequests()[0];
    expect(original?.aws).toMatchObject({ service: "sts", signatureValid: true, result: "ok" });
    if (!original) throw new Error("no request");

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(original.headers)) {
      if (["host", "connection", "content-length", "transfer-encoding"].includes(name) || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const send = (body: string) => fetch(`${fake.url}${original.path}`, { method: "POST", headers, body });

    const replay = await send(original.body);
    expect(replay.status).toBe(200);
    expect(await replay.text()).toContain(`<Account>${FAKE_AWS_CUSTOMER_ACCOUNT}</Account>`);

    const tampered = await send(original.body.replace("2011-06-15", "2011-06-16"));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain("<Code>SignatureDoesNotMatch</Code>");

    const forged = await fetch(`${fake.url}/`, {
      method: "POST",
      headers: {
        ...headers,
        authorization: String(headers.authorization).replace(/Signature=[0-9a-f]{64}/, `Signature=${"0".repeat(64)}`),
      },
      body: original.body,
    });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain("<Code>SignatureDoesNotMatch</Code>");

    const unsigned = await fetch(`${fake.url}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=GetCallerIdentity&Version=2011-06-15",
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain("<Code>MissingAuthenticationToken</Code>");
  });
});

describe("aws_iam (AssumeRole with the platform identity + GetCostAndUsage)", () => {
  it("a role trusting the platform with this org's external ID is ok", async () => {
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }));
    expect(result.outcome).toBe("ok");
    expect(outcomes(result)).toEqual(["authenticate:ok", "read_costs:ok"]);
    expect(result.account).toEqual({ id: FAKE_AWS_ROLE_ACCOUNT, name: FAKE_AWS_ROLE_ARN });
    expect(result.key_kind).toBe("assumed_role");

    const call = fake.assumeRoleCalls.at(-1);
    expect(call).toMatchObject({
      roleArn: FAKE_AWS_ROLE_ARN,
      externalId: EXTERNAL_ID,
      roleSessionName: "finops-cm-acme",
      durationSeconds: 900,
      callerAccessKeyId: FAKE_AWS_PLATFORM.accessKeyId,
      result: "ok",
    });
    const issued = fake.issued.at(-1);
    const [assume, costs] = awsRequests();
    expect(assume?.aws).toMatchObject({ service: "sts", operation: "AssumeRole", accessKeyId: FAKE_AWS_PLATFORM.accessKeyId, signatureValid: true });
    expect(costs?.aws).toMatchObject({
      service: "ce",
      operation: "GetCostAndUsage",
      accessKeyId: issued?.accessKeyId,
      sessionToken: issued?.sessionToken,
      signatureValid: true,
      result: "ok",
    });
    expect(awsRequests()).toHaveLength(2);
  });

  it("a wrong external ID → permission_denied explaining the trust policy and external ID", async () => {
    const result = await run(
      testAwsAssumeRole,
      ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }, { externalId: "some-other-org-external-id" }),
    );
    expect(result.outcome).toBe("permission_denied");
    expect(outcomes(result)).toEqual(["authenticate:permission_denied", "read_costs:skipped"]);
    const message = result.checks[0]?.message ?? "";
    expect(message).toMatch(/trust policy/);
    expect(message).toMatch(/sts:ExternalId/);
    expect(message).toMatch(/external ID/);
    expect(message).toMatch(/setup-info/);
    expect(message).toContain(FAKE_AWS_ROLE_ARN);
    expect(result.account).toBeNull();
    expect(fake.assumeRoleCalls.at(-1)?.result).toBe("AccessDenied");
  });

  it("a role whose trust policy does not allow the platform → permission_denied", async () => {
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN_UNTRUSTED }));
    expect(result.outcome).toBe("permission_denied");
    expect(result.checks[0]?.message).toMatch(/AccessDenied/);
  });

  it("a role without Cost Explorer permission → permission_denied with the ce:GetCostAndUsage hint", async () => {
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN_NO_PERMISSIONS }));
    expect(outcomes(result)).toEqual(["authenticate:ok", "read_costs:permission_denied"]);
    expect(result.checks[1]?.message).toMatch(/Grant ce:GetCostAndUsage/);
    expect(result.account?.id).toBe(FAKE_AWS_ROLE_ACCOUNT);
  });

  it("no platform AWS identity → provider_error with the operator message", async () => {
    setPlatformIdentity(null);
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }));
    expect(result.outcome).toBe("provider_error");
    expect(result.checks[0]?.message).toBe(AWS_NO_PLATFORM_IDENTITY_MESSAGE);
    expect(result.checks[0]?.message).toMatch(/the platform has no AWS identity configured: set AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY/i);
    expect(awsRequests()).toHaveLength(0);
  });

  it("a platform identity AWS rejects → provider_error for the operators, not the customer", async () => {
    setPlatformIdentity({ AWS_ACCESS_KEY_ID: FAKE_AWS_PLATFORM.accessKeyId, AWS_SECRET_ACCESS_KEY: WRONG_SECRET });
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }));
    expect(result.outcome).toBe("provider_error");
    expect(result.checks[0]?.message).toMatch(/platform's own secret access key \(SignatureDoesNotMatch\).*Operators/);
  });

  it("throttled STS → rate_limited; 503 → provider_error", async () => {
    fake.setMode("throttled", { service: "sts", retryAfterS: 12 });
    const throttled = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }));
    expect(throttled.outcome).toBe("rate_limited");
    expect(throttled.retry_after_s).toBe(12);

    fake.setMode("normal");
    fake.setMode("unavailable", { service: "ce" });
    const unavailable = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }));
    expect(outcomes(unavailable)).toEqual(["authenticate:ok", "read_costs:provider_error"]);
    expect(unavailable.checks[1]?.message).toMatch(/AWS Cost Explorer answered 503/);
  });

  it("a hanging STS with timeoutMs 300 → timeout, quickly", async () => {
    fake.setMode("hang");
    const started = Date.now();
    const result = await run(testAwsAssumeRole, ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }, { timeoutMs: 300 }));
    expect(result.outcome).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a closed port → network", async () => {
    const url = await closedPortUrl();
    const result = await run(
      testAwsAssumeRole,
      ctxFor("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }, { endpoints: { sts_endpoint: url, ce_endpoint: url } }),
    );
    expect(result.outcome).toBe("network");
  });
});

describe("aws_bedrock (AssumeRole + ListFoundationModels)", () => {
  it("a trusted role with Bedrock access is ok, signed for the credential's region", async () => {
    const result = await run(
      testAwsAssumeRole,
      ctxFor("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "eu-central-1" }),
    );
    expect(result.outcome).toBe("ok");
    expect(outcomes(result)).toEqual(["authenticate:ok", "list_models:ok"]);
    expect(result.account).toEqual({ id: FAKE_AWS_ROLE_ACCOUNT, name: FAKE_AWS_ROLE_ARN });
    expect(result.key_kind).toBe("assumed_role");
    const bedrock = awsRequests().find((r) => r.aws?.service === "bedrock");
    expect(bedrock?.method).toBe("GET");
    expect(bedrock?.pathname).toBe("/foundation-models");
    expect(bedrock?.aws).toMatchObject({ region: "eu-central-1", signatureValid: true, result: "ok", accessKeyId: fake.issued.at(-1)?.accessKeyId });
  });

  it("a role without Bedrock permission → permission_denied with the bedrock:ListFoundationModels hint", async () => {
    const result = await run(
      testAwsAssumeRole,
      ctxFor("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN_NO_PERMISSIONS, region: "us-east-1" }),
    );
    expect(outcomes(result)).toEqual(["authenticate:ok", "list_models:permission_denied"]);
    expect(result.checks[1]?.message).toMatch(/Grant bedrock:ListFoundationModels/);
    expect(result.checks[1]?.message).toMatch(/AccessDeniedException/);
  });

  it("Bedrock throttling (429) → rate_limited", async () => {
    fake.setMode("throttled", { service: "bedrock", retryAfterS: 3 });
    const result = await run(testAwsAssumeRole, ctxFor("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "us-east-1" }));
    expect(outcomes(result)).toEqual(["authenticate:ok", "list_models:rate_limited"]);
    expect(result.retry_after_s).toBe(3);
  });

  it("a wrong external ID → permission_denied, list_models skipped", async () => {
    const result = await run(
      testAwsAssumeRole,
      ctxFor("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "us-east-1" }, { externalId: "not-this-org" }),
    );
    expect(outcomes(result)).toEqual(["authenticate:permission_denied", "list_models:skipped"]);
  });
});

describe("helpers", () => {
  it("key kinds, session names and ARN parsing", () => {
    expect(awsKeyKind("AKIAFAKECUSTOMER0001")).toBe("long_term");
    expect(awsKeyKind("ASIAFAKETEMPORARY001")).toBe("temporary");
    expect(roleSessionName("acme")).toBe("finops-cm-acme");
    expect(roleSessionName("a b/c")).toBe("finops-cm-a-b-c");
    expect(roleSessionName("x".repeat(100))).toHaveLength(64);
    expect(parseRoleArn("arn:aws-cn:iam::123456789012:role/path/R")).toEqual({ partition: "aws-cn", account: "123456789012" });
    expect(parseRoleArn("arn:aws:iam::123456789012:user/R")).toBeNull();
  });

  it("default endpoints follow the role's partition; overrides are kept", () => {
    const base = ctxFor("aws_iam", {});
    const defaults = { ...base, endpoints: { sts_endpoint: "https://sts.us-east-1.amazonaws.com", ce_endpoint: "https://ce.us-east-1.amazonaws.com" } };
    expect(stsTarget(defaults, "aws")).toEqual({ endpoint: "https://sts.us-east-1.amazonaws.com", region: "us-east-1" });
    expect(stsTarget(defaults, "aws-cn")).toEqual({ endpoint: "https://sts.cn-northwest-1.amazonaws.com.cn", region: "cn-northwest-1" });
    expect(stsTarget(defaults, "aws-us-gov")).toEqual({ endpoint: "https://sts.us-gov-west-1.amazonaws.com", region: "us-gov-west-1" });
    expect(ceTarget(defaults, "aws")).toEqual({ endpoint: "https://ce.us-east-1.amazonaws.com", region: "us-east-1" });
    expect(ceTarget(defaults, "aws-cn")).toEqual({ endpoint: "https://ce.cn-northwest-1.amazonaws.com.cn", region: "cn-northwest-1" });
    expect(stsTarget(base, "aws-cn")).toEqual({ endpoint: fake.url, region: "cn-northwest-1" });
    const regional = { ...base, endpoints: { sts_endpoint: "https://sts.eu-west-1.amazonaws.com" } };
    expect(stsTarget(regional, null)).toEqual({ endpoint: "https://sts.eu-west-1.amazonaws.com", region: "eu-west-1" });
    // The legacy global endpoint, set explicitly, is kept for the aws partition and still replaced for the others.
    const legacy = { ...base, endpoints: { sts_endpoint: "https://sts.amazonaws.com" } };
    expect(stsTarget(legacy, "aws")).toEqual({ endpoint: "https://sts.amazonaws.com", region: "us-east-1" });
    expect(stsTarget(legacy, "aws-cn")).toEqual({ endpoint: "https://sts.cn-northwest-1.amazonaws.com.cn", region: "cn-northwest-1" });
  });

  it("the registry's default STS is regional (tokens valid in opt-in Regions, e.g. Bedrock there), never the legacy global endpoint", () => {
    // Global-endpoint tokens are valid only in Regions enabled by default; regional ones everywhere
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_enable-regions.html).
    for (const id of ["aws_iam", "aws_keys", "aws_bedrock"]) {
      const def = resolveProvider(id);
      const endpoints = resolveEndpoints(def!, { region: "ap-east-1" }, {});
      expect(endpoints.sts_endpoint, id).toBe("https://sts.us-east-1.amazonaws.com");
      expect(stsTarget({ endpoints }, id === "aws_keys" ? null : "aws")).toEqual({ endpoint: "https://sts.us-east-1.amazonaws.com", region: "us-east-1" });
    }
  });

  it("aws_keys: the key's partition comes from the region metadata key (SDK partition table); its STS is that partition's", async () => {
    const { partitionOfRegion, accessKeyRegion } = await import("./index");
    expect(partitionOfRegion("us-east-1")).toBe("aws");
    expect(partitionOfRegion("cn-north-1")).toBe("aws-cn");
    expect(partitionOfRegion("us-gov-west-1")).toBe("aws-us-gov");
    expect(partitionOfRegion("us-isob-east-1")).toBe("aws-iso-b");
    expect(partitionOfRegion("eusc-de-east-1")).toBe("aws-eusc");
    expect(partitionOfRegion("xx-nowhere-1")).toBeNull();
    expect(accessKeyRegion({ metadata: { region: "cn-northwest-1" } })).toEqual({ region: "cn-northwest-1", partition: "aws-cn" });
    expect(accessKeyRegion({ metadata: {} })).toEqual({ region: null, partition: null });
    const defaults = { endpoints: { sts_endpoint: "https://sts.amazonaws.com" } };
    expect(stsTarget(defaults, "aws-cn", "cn-north-1")).toEqual({ endpoint: "https://sts.cn-north-1.amazonaws.com.cn", region: "cn-north-1" });
    expect(stsTarget(defaults, "aws-us-gov", "us-gov-east-1")).toEqual({ endpoint: "https://sts.us-gov-east-1.amazonaws.com", region: "us-gov-east-1" });
    // A hint from another partition is ignored.
    expect(stsTarget(defaults, "aws-cn", "eu-west-1")).toEqual({ endpoint: "https://sts.cn-northwest-1.amazonaws.com.cn", region: "cn-northwest-1" });

    // End to end: an aws-cn key is sent to China's STS, never to the global endpoint (no network here,
    // so the failure message names the host that was tried).
    const ctx = { ...ctxFor("aws_keys", { access_key_id: "AKIAFAKECHINA0000001", secret_access_key: "x".repeat(40) }), endpoints: defaults.endpoints, timeoutMs: 500, metadata: { region: "cn-north-1" } };
    const result = await testAwsAccessKeys(ctx);
    expect(result.outcome === "network" || result.outcome === "timeout").toBe(true);
    expect(result.checks[0]!.message).toContain("https://sts.cn-north-1.amazonaws.com.cn");
  });

  it("classifies errors the fake does not produce", () => {
    const ctx = ctxFor("aws_keys", {});
    const serviceError = (name: string, status: number, message = "", headers: Record<string, string> = {}) =>
      Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers } });

    const unavailable = classifyAwsError(ctx, "keys_costs", fake.url, serviceError("DataUnavailableException", 400));
    expect(unavailable.outcome).toBe("not_found");
    expect(unavailable.message).toMatch(/enabled in the payer \(management\) account/);
    const notEnabled = classifyAwsError(ctx, "role_costs", fake.url, serviceError("AccessDeniedException", 400, "User not enabled for cost explorer access"));
    expect(notEnabled.outcome).toBe("not_found");
    expect(classifyAwsError(ctx, "caller_identity", fake.url, serviceError("RequestExpired", 400)).outcome).toBe("expired");
    expect(classifyAwsError(ctx, "caller_identity", fake.url, serviceError("InternalFailure", 500)).outcome).toBe("provider_error");
    // What to grant comes from the provider's registry entry (aws_bedrock's cost_permissions).
    expect(classifyAwsError(ctxFor("aws_bedrock", {}), "role_bedrock", fake.url, serviceError("UnauthorizedOperation", 403)).message).toMatch(
      /Grant bedrock:ListFoundationModels, ce:GetCostAndUsage to the role/,
    );
    // Bedrock in a Region the role's account has not enabled refuses fresh credentials as "invalid": say so.
    const optIn = classifyAwsError(ctxFor("aws_bedrock", {}), "role_bedrock", fake.url, serviceError("UnrecognizedClientException", 403, "The security token included in the request is invalid."), { region: "ap-east-1" });
    expect(optIn.outcome).toBe("provider_error");
    expect(optIn.message).toMatch(/If ap-east-1 is an opt-in Region, check that it is enabled for the role's account/);
    expect(classifyAwsError(ctx, "role_costs", fake.url, serviceError("UnrecognizedClientException", 400)).message).not.toMatch(/opt-in/);
    const skew = classifyAwsError(ctx, "caller_identity", fake.url, serviceError("SignatureDoesNotMatch", 403, "Signature expired: 20260101T000000Z is now earlier than 20260101T001000Z"));
    expect(skew.outcome).toBe("provider_error");
    expect(skew.message).toMatch(/clock/);
    const limited = classifyAwsError(ctx, "keys_costs", fake.url, serviceError("TooManyRequestsException", 429, "", { "retry-after": "5" }));
    expect(limited).toMatchObject({ outcome: "rate_limited", retry_after_s: 5 });
    const chain = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
    expect(classifyAwsError(ctx, "assume_role", fake.url, chain)).toEqual({ outcome: "provider_error", message: AWS_NO_PLATFORM_IDENTITY_MESSAGE });
    expect(classifyAwsError(ctx, "assume_role", fake.url, Object.assign(new Error("x"), { name: "TimeoutError" })).outcome).toBe("timeout");
    expect(classifyAwsError(ctx, "assume_role", fake.url, new TypeError("boom")).outcome).toBe("provider_error");
  });
});

// ---------------------------------------------------------------------------------------------

describe("pacing: the SDK clients' requests spend the provider budget (docs/security.md, \"Pacing\")", () => {
  const paced = (provider: "aws_keys" | "aws_iam" | "aws_bedrock") =>
    tinyBudget(provider, { AWS_STS_ENDPOINT: fake.url, AWS_CE_ENDPOINT: fake.url, AWS_BEDROCK_ENDPOINT: fake.url }, { externalId: EXTERNAL_ID });

  /** Runs the test twice on a budget of one: the second is rate_limited and the fake saw nothing more. */
  async function secondIsPaced(provider: "aws_keys" | "aws_iam" | "aws_bedrock", credential: Record<string, unknown>, first: string) {
    const { provider: p, opts } = paced(provider);
    const one = await runConnectionTest(p, credential, opts);
    expect(one.outcome).toBe(first);
    const sent = fake.requests.length;
    expect(sent).toBeGreaterThan(0);

    const two = await runConnectionTest(p, credential, opts);
    expect(two.outcome).toBe("rate_limited");
    expect(two.retry_after_s).toBeGreaterThan(0);
    expect(two.checks[0]).toMatchObject({ name: "authenticate", outcome: "rate_limited" });
    expect(fake.requests.length).toBe(sent); // nothing left: not the STS call, not the second service's
  }

  it("aws_keys: GetCallerIdentity + GetCostAndUsage, then nothing", async () => {
    await secondIsPaced("aws_keys", keysOf(FAKE_AWS_KEYS), "ok");
  });

  it("aws_keys with a wrong secret: the refused STS call spends the unit, and the next one is never sent", async () => {
    await secondIsPaced("aws_keys", { ...keysOf(FAKE_AWS_KEYS), secret_access_key: WRONG_SECRET }, "auth_failed");
    expect(awsRequests()).toHaveLength(1);
  });

  it("aws_iam: AssumeRole (with the platform identity) + GetCostAndUsage, then nothing", async () => {
    await secondIsPaced("aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }, "ok");
  });

  it("aws_bedrock: AssumeRole + ListFoundationModels, then nothing", async () => {
    await secondIsPaced("aws_bedrock", { role_arn: FAKE_AWS_ROLE_ARN, region: "eu-central-1" }, "ok");
  });

  it("a pipeline's authenticate() (GetSessionToken, AssumeRole) is paced the same way: rate_limited, nothing sent", async () => {
    for (const [provider, credential] of [
      ["aws_keys", keysOf(FAKE_AWS_KEYS)],
      ["aws_iam", { role_arn: FAKE_AWS_ROLE_ARN }],
    ] as const) {
      const { provider: p, opts } = paced(provider);
      expect((await runAuthenticate(p, credential, opts)).kind).toBe("aws");
      const sent = fake.requests.length;
      const e = await runAuthenticate(p, credential, opts).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe("rate_limited");
      expect((e as AppError).extra.retryAfterS).toBeGreaterThan(0);
      expect(fake.requests.length).toBe(sent);
    }
  });
});
