import "server-only";

import { BedrockClient, ListFoundationModelsCommand } from "@aws-sdk/client-bedrock";
import { CostExplorerClient, GetCostAndUsageCommand } from "@aws-sdk/client-cost-explorer";
import { AssumeRoleCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient, type Credentials as StsCredentials } from "@aws-sdk/client-sts";

import { combineChecks, credentialString, NOT_RUN_AFTER_AUTH, skippedCheck, timedCheck, toCheck } from "../http";
import type { ResolvedProvider } from "../../registry-schema";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuth, PipelineAuthenticator, SetupInfoBuilder } from "../types";

import { type AwsCredentials, accessKeyRegion, accountOfArn, awsKeyKind, ceTarget, clientConfig, parseRoleArn, regionOfHost, roleSessionName, stsTarget, withDeadline } from "./sts";
import { classifyAwsError } from "./errors";

export { accessKeyRegion, awsKeyKind, ceTarget, parseRoleArn, partitionOfRegion, roleSessionName, stsTarget } from "./sts";
export { AWS_NO_PLATFORM_IDENTITY_MESSAGE, classifyAwsError } from "./errors";

/**
 * AWS (docs/providers.md, "AWS, access keys", "AWS, IAM role" and "AWS Bedrock"): one module for the AWS protocol, speaking through the official
 * SDK clients (SigV4 signing, query/JSON/REST-JSON protocols), never signing by hand.
 *
 * - `aws_keys` (kind aws_access_keys): STS GetCallerIdentity with the uploaded keys proves they
 *   authenticate (it needs no permission), then a one-day Cost Explorer GetCostAndUsage proves
 *   ce:GetCostAndUsage.
 * - `aws_iam` / `aws_bedrock` (kind aws_assume_role): the platform's OWN AWS identity (the SDK's
 *   default credential chain: environment, profile, container or instance role) calls STS AssumeRole
 *   on the customer's role with the organization's external ID; the short-lived role credentials
 *   then call Cost Explorer (aws_iam) or Bedrock ListFoundationModels (aws_bedrock).
 *
 * Every client gets `maxAttempts: 1` (a test never multiplies calls, and Cost Explorer bills each
 * one), a NodeHttpHandler whose connection and request timeouts are the context's timeout, and an
 * overall deadline that also covers credential resolution. Messages never quote an AWS error
 * message (it can name principals and resources); only the error code, after `safeToken`.
 */

const NOT_RUN = NOT_RUN_AFTER_AUTH;

// ---------------------------------------------------------------------------------------------
// Cost Explorer probe

/** Yesterday → today (UTC): the smallest period GetCostAndUsage accepts (End is exclusive). */
function oneDay(ctx: ConnectionTestContext): { Start: string; End: string } {
  const end = new Date(ctx.now());
  const start = new Date(end.getTime() - 86_400_000);
  return { Start: start.toISOString().slice(0, 10), End: end.toISOString().slice(0, 10) };
}

/**
 * One one-day GetCostAndUsage. NOTE: AWS bills $0.01 per Cost Explorer API request (each page
 * counts), so this probe is made once per test, with `maxAttempts: 1` and no pagination.
 */
async function probeCosts(
  ctx: ConnectionTestContext,
  op: "keys_costs" | "role_costs",
  credentials: AwsCredentials,
  partition: string | null,
): Promise<CheckResult> {
  const { endpoint, region } = ceTarget(ctx, partition);
  return timedCheck("read_costs", async () => {
    const client = new CostExplorerClient(clientConfig(ctx, endpoint, region, credentials));
    try {
      const out = await withDeadline(ctx, (abortSignal) =>
        client.send(
          new GetCostAndUsageCommand({ TimePeriod: oneDay(ctx), Granularity: "DAILY", Metrics: ["UnblendedCost"] }),
          { abortSignal },
        ),
      );
      if (!Array.isArray(out.ResultsByTime)) {
        return classifyAwsError(ctx, op, endpoint, { $metadata: { httpStatusCode: 200 } });
      }
      return { outcome: "ok" };
    } catch (err) {
      return classifyAwsError(ctx, op, endpoint, err);
    } finally {
      client.destroy();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// aws_keys

export const testAwsAccessKeys: ConnectionTest = async (ctx) => {
  const accessKeyId = credentialString(ctx, "access_key_id");
  const secretAccessKey = credentialString(ctx, "secret_access_key");
  const sessionToken = credentialString(ctx, "session_token");
  const secrets = [secretAccessKey, sessionToken];
  if (!accessKeyId || !secretAccessKey) {
    return combineChecks(
      [
        toCheck("authenticate", { outcome: "auth_failed", message: "Both the access key ID and the secret access key are needed." }, 0),
        skippedCheck("read_costs", NOT_RUN),
      ],
      { secrets },
    );
  }
  const keyKind = awsKeyKind(accessKeyId);
  const credentials: AwsCredentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };

  let account: ConnectionTestResult["account"] = null;
  const keyRegion = accessKeyRegion(ctx);
  const sts = stsTarget(ctx, keyRegion.partition, keyRegion.region);
  const authenticate = await timedCheck("authenticate", async () => {
    const client = new STSClient(clientConfig(ctx, sts.endpoint, sts.region, credentials));
    try {
      const out = await withDeadline(ctx, (abortSignal) => client.send(new GetCallerIdentityCommand({}), { abortSignal }));
      if (typeof out.Account !== "string" || !/^\d{12}$/.test(out.Account)) {
        return classifyAwsError(ctx, "caller_identity", sts.endpoint, { $metadata: { httpStatusCode: 200 } });
      }
      account = { id: out.Account, name: typeof out.Arn === "string" ? out.Arn : null };
      return { outcome: "ok" };
    } catch (err) {
      return classifyAwsError(ctx, "caller_identity", sts.endpoint, err, { temporaryKey: keyKind === "temporary" });
    } finally {
      client.destroy();
    }
  });
  if (authenticate.outcome !== "ok") {
    return combineChecks([authenticate, skippedCheck("read_costs", NOT_RUN)], { key_kind: keyKind, secrets });
  }
  const partition = (account as ConnectionTestResult["account"])?.name?.split(":")[1] ?? keyRegion.partition;
  const readCosts = await probeCosts(ctx, "keys_costs", credentials, partition);
  return combineChecks([authenticate, readCosts], { account, key_kind: keyKind, secrets });
};

// ---------------------------------------------------------------------------------------------
// aws_iam / aws_bedrock

function isBedrock(ctx: ConnectionTestContext): boolean {
  return ctx.provider.startsWith("aws_bedrock");
}

async function probeBedrock(ctx: ConnectionTestContext, credentials: AwsCredentials): Promise<CheckResult> {
  const region = credentialString(ctx, "region") ?? regionOfHost(ctx.endpoints.bedrock_endpoint ?? "") ?? "us-east-1";
  const endpoint = ctx.endpoints.bedrock_endpoint ?? `https://bedrock.${region}.amazonaws.com`;
  return timedCheck("list_models", async () => {
    const client = new BedrockClient({
      ...clientConfig(ctx, endpoint, region, credentials),
      // Always SigV4 with the role's credentials, never a bearer token from AWS_BEARER_TOKEN_BEDROCK.
      authSchemePreference: ["sigv4"],
    });
    try {
      await withDeadline(ctx, (abortSignal) => client.send(new ListFoundationModelsCommand({}), { abortSignal }));
      return { outcome: "ok" };
    } catch (err) {
      return classifyAwsError(ctx, "role_bedrock", endpoint, err, { region });
    } finally {
      client.destroy();
    }
  });
}

/**
 * One AssumeRole of `roleArn` with the org's external ID (when set), within the context's deadline,
 * for the connection test and the pipelines alike. The client has no `credentials`: the SDK's
 * default provider chain supplies the platform's own identity.
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 */
async function assumeRole(ctx: ConnectionTestContext, config: ReturnType<typeof clientConfig>, roleArn: string, sessionName: string, durationSeconds: number) {
  const client = new STSClient(config);
  try {
    return await withDeadline(ctx, (abortSignal) =>
      client.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: sessionName,
          DurationSeconds: durationSeconds,
          ...(ctx.externalId ? { ExternalId: ctx.externalId } : {}),
        }),
        { abortSignal },
      ),
    );
  } finally {
    client.destroy();
  }
}

export const testAwsAssumeRole: ConnectionTest = async (ctx) => {
  const bedrock = isBedrock(ctx);
  const secondCheck = bedrock ? "list_models" : "read_costs";
  const roleArn = credentialString(ctx, "role_arn");
  const parsed = roleArn ? parseRoleArn(roleArn) : null;
  if (!roleArn || !parsed) {
    return combineChecks(
      [
        toCheck(
          "authenticate",
          { outcome: "auth_failed", message: "The role ARN is missing or not an IAM role ARN (arn:aws:iam::123456789012:role/Name)." },
          0,
        ),
        skippedCheck(secondCheck, NOT_RUN),
      ],
      { key_kind: "assumed_role" },
    );
  }

  const sts = stsTarget(ctx, parsed.partition);
  let credentials: AwsCredentials | null = null;
  let account: ConnectionTestResult["account"] = null;
  const authenticate = await timedCheck("authenticate", async () => {
    try {
      const out = await assumeRole(ctx, clientConfig(ctx, sts.endpoint, sts.region), roleArn, roleSessionName(ctx.org), 900);
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
        return classifyAwsError(ctx, "assume_role", sts.endpoint, { $metadata: { httpStatusCode: 200 } });
      }
      credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
      account = { id: accountOfArn(out.AssumedRoleUser?.Arn) ?? parsed.account, name: roleArn };
      return { outcome: "ok" };
    } catch (err) {
      return classifyAwsError(ctx, "assume_role", sts.endpoint, err, { roleArn });
    }
  });

  const issued = credentials as AwsCredentials | null;
  const secrets = [issued?.secretAccessKey, issued?.sessionToken];
  if (authenticate.outcome !== "ok" || !issued) {
    return combineChecks([authenticate, skippedCheck(secondCheck, NOT_RUN)], { key_kind: "assumed_role", secrets });
  }
  const second = bedrock ? await probeBedrock(ctx, issued) : await probeCosts(ctx, "role_costs", issued, parsed.partition);
  return combineChecks([authenticate, second], { account, key_kind: "assumed_role", secrets });
};

// ---------------------------------------------------------------------------------------------
// For pipelines: the same STS endpoint and signing region as the connection test.

/** STS's temporary credentials as a pipeline's answer; `op` names the STS call when it returned none. */
function stsAccess(ctx: ConnectionTestContext, op: string, c: StsCredentials | undefined, region: string): PipelineAuth {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`${op} returned no credentials`);
  return {
    kind: "aws",
    provider: ctx.provider,
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
    region,
    expires_at: c.Expiration.toISOString(),
  };
}

/** Pipelines get one retry; the rest of the client (endpoint, region, timeouts) is the test's. */
function pipelineClientConfig(ctx: ConnectionTestContext, endpoint: string, region: string, credentials?: AwsCredentials) {
  return { ...clientConfig(ctx, endpoint, region, credentials), maxAttempts: 2 };
}

/**
 * aws_keys: temporary credentials from STS GetSessionToken, made with the stored long-term key at
 * the STS of the key's partition (the `region` metadata key), so the pipeline never holds the
 * long-term key. GetSessionToken must be called with long-term IAM user keys; stored temporary
 * keys (with a session token) are handed out as they are
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html).
 */
export const authenticateAwsKeys: PipelineAuthenticator = async (ctx) => {
  const accessKeyId = credentialString(ctx, "access_key_id") ?? "";
  const secretAccessKey = credentialString(ctx, "secret_access_key") ?? "";
  const sessionToken = credentialString(ctx, "session_token");
  const keyRegion = accessKeyRegion(ctx);
  const sts = stsTarget(ctx, keyRegion.partition, keyRegion.region);
  const region = keyRegion.region ?? sts.region;
  if (sessionToken) return { kind: "aws", provider: ctx.provider, credentials: { accessKeyId, secretAccessKey, sessionToken }, region, expires_at: null };
  const client = new STSClient(pipelineClientConfig(ctx, sts.endpoint, sts.region, { accessKeyId, secretAccessKey }));
  try {
    // One hour: 900 s is the minimum, 43,200 s the default.
    const out = await withDeadline(ctx, (abortSignal) => client.send(new GetSessionTokenCommand({ DurationSeconds: 3600 }), { abortSignal }));
    return stsAccess(ctx, "GetSessionToken", out.Credentials, region);
  } finally {
    client.destroy();
  }
};

/** aws_iam / aws_bedrock: AssumeRole with the org's external ID at the role partition's STS, as the test does. */
export const authenticateAwsRole: PipelineAuthenticator = async (ctx) => {
  const roleArn = credentialString(ctx, "role_arn") ?? "";
  const parsed = parseRoleArn(roleArn);
  if (!parsed) throw new Error("not an IAM role ARN");
  const sts = stsTarget(ctx, parsed.partition);
  // Distinct from the connection test's session name, so the customer's CloudTrail tells them apart.
  const sessionName = `finops-pipeline-${ctx.org}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  const out = await assumeRole(ctx, pipelineClientConfig(ctx, sts.endpoint, sts.region), roleArn, sessionName, 3600);
  return stsAccess(ctx, "AssumeRole", out.Credentials, credentialString(ctx, "region") ?? sts.region);
};

// ---------------------------------------------------------------------------------------------
// Setup help

/** What the operator must configure before customers can connect an AWS role (setup-info's `aws.note`). */
export const PLATFORM_AWS_IDENTITY_MISSING =
  "Operator action needed: this server has no AWS identity, so there is no principal for a customer's role to trust. " +
  "Give the server AWS credentials that may call sts:AssumeRole (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, " +
  "or an instance or task role), and set PLATFORM_AWS_PRINCIPAL_ARN to the ARN customers should trust (or let the server read it " +
  "from STS GetCallerIdentity). Restart the server; this page then shows the trust policy.";

/** Read permissions the AWS role needs, per provider (mirrors cost_permissions in providers.yml). */
export function awsActions(provider: ResolvedProvider): string[] {
  return provider.cost_permissions.filter((p) => /^[a-z0-9-]+:[A-Za-z*]+$/.test(p));
}

function trustPolicy(principal: string, externalId: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: principal },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": externalId } },
      },
    ],
  };
}

function cloudFormation(provider: ResolvedProvider, principal: string, externalId: string) {
  const roleName = provider.id === "aws_bedrock" ? "FinOpsBedrockReader" : "FinOpsCostReader";
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `Read-only role for the FinOps credential manager (${provider.name}). Grants only: ${awsActions(provider).join(", ")}.`,
    Resources: {
      FinOpsRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: roleName,
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: trustPolicy(principal, externalId),
          Policies: [
            {
              PolicyName: `${roleName}Policy`,
              PolicyDocument: {
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }],
              },
            },
          ],
        },
      },
    },
    Outputs: { RoleArn: { Description: "Paste this into the integration's role_arn field", Value: { "Fn::GetAtt": ["FinOpsRole", "Arn"] } } },
  };
}

/** aws_iam / aws_bedrock: the org's external ID, the principal to trust, a trust policy and a CloudFormation template. */
export const awsRoleSetupInfo: SetupInfoBuilder = async (provider, org, platform) => {
  const principal = await platform.awsPrincipal();
  return {
    aws: {
      external_id: org.externalId,
      platform_principal: principal,
      // Without the platform's own AWS identity no trust policy can name a principal: none is offered
      // (a placeholder policy would be copied and fail), only the operator's to-do below.
      trust_policy: principal ? trustPolicy(principal, org.externalId) : null,
      cloudformation_template: principal ? cloudFormation(provider, principal, org.externalId) : null,
      iam_policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }] },
      ...(principal ? {} : { note: PLATFORM_AWS_IDENTITY_MISSING }),
    },
    steps: principal
      ? [
          "Create an IAM role in the account that holds your costs (for AWS Organizations: the management/payer account), using the CloudFormation template or the trust policy below.",
          `The trust policy must name the platform principal and require the external ID ${org.externalId}: it is unique to your organization and protects against the confused-deputy problem.`,
          `Attach a policy allowing only: ${awsActions(provider).join(", ")}.`,
          provider.connection_test.checks.some((c) => c.name === "list_models")
            ? "Paste the role ARN and the Bedrock region into the form."
            : "Paste the role ARN into the form. The connection test makes one Cost Explorer call (AWS bills $0.01 per call).",
        ]
      : [
          "This server has no AWS identity yet, so a role cannot be connected: ask the operator to configure one (see the note).",
          `Once it has one, this page shows the trust policy to create, with your organization's external ID ${org.externalId}.`,
        ],
  };
};

/** aws_keys: an IAM user limited to the cost permissions, and its access key. */
export const awsKeysSetupInfo: SetupInfoBuilder = async (provider) => ({
  steps: [
    "Create an IAM user (or use an existing one) for the cost pipeline.",
    `Attach a policy allowing only: ${awsActions(provider).join(", ")}.`,
    "Create an access key for it and paste the key ID and secret. The connection test makes one Cost Explorer call (AWS bills $0.01 per call).",
    "For AWS China, GovCloud or another partition, add the metadata key region (e.g. cn-north-1): the key is tested at that partition's STS.",
    "Prefer the IAM role integration (aws_iam): it needs no long-lived secret.",
  ],
  commands: [
    "aws iam create-user --user-name finops-cost-reader",
    `aws iam put-user-policy --user-name finops-cost-reader --policy-name FinOpsCostRead --policy-document '${JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }] })}'`,
    "aws iam create-access-key --user-name finops-cost-reader",
  ],
});
