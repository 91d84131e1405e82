import "server-only";

import { BedrockClient, ListFoundationModelsCommand } from "@aws-sdk/client-bedrock";
import { CostExplorerClient, GetCostAndUsageCommand } from "@aws-sdk/client-cost-explorer";
import { AssumeRoleCommand, GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from "@aws-sdk/client-sts";
import { NodeHttpHandler } from "@smithy/node-http-handler";

import {
  classifyFetchError,
  combineChecks,
  credentialString,
  formatDuration,
  originOf,
  parseRetryAfter,
  safeToken,
  skippedCheck,
  timedCheck,
  toCheck,
  tokenSuffix,
  type CheckBody,
  NOT_RUN_AFTER_AUTH,
  definitionOf,
} from "../http";
import type { ResolvedProvider } from "../../registry-schema";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";

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

const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com";
const DEFAULT_CE_ENDPOINT = "https://ce.us-east-1.amazonaws.com";
const CN_CE_ENDPOINT = "https://ce.cn-northwest-1.amazonaws.com.cn";

/** The IAM role ARN shape (registry pattern); only a matching value is quoted in a message. */
const ROLE_ARN_RE =
  /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::(\d{12}):role\/(?:[\x21-\x7E]*\/)?[\w+=,.@-]{1,64}$/;
const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Partitions: DNS suffix and the region their global endpoints sign for (aws-sdk-js-v3 partitions.json). */
const PARTITIONS: Record<string, { dnsSuffix: string; region: string }> = {
  aws: { dnsSuffix: "amazonaws.com", region: "us-east-1" },
  "aws-cn": { dnsSuffix: "amazonaws.com.cn", region: "cn-northwest-1" },
  "aws-us-gov": { dnsSuffix: "amazonaws.com", region: "us-gov-west-1" },
  "aws-iso": { dnsSuffix: "c2s.ic.gov", region: "us-iso-east-1" },
  "aws-iso-b": { dnsSuffix: "sc2s.sgov.gov", region: "us-isob-east-1" },
  "aws-iso-e": { dnsSuffix: "cloud.adc-e.uk", region: "eu-isoe-west-1" },
  "aws-iso-f": { dnsSuffix: "csp.hci.ic.gov", region: "us-isof-south-1" },
  "aws-eusc": { dnsSuffix: "amazonaws.eu", region: "eusc-de-east-1" },
};

/**
 * Which partition a region belongs to: the `regionRegex` of each partition in aws-sdk-js-v3
 * `packages/util-endpoints/src/lib/aws/partitions.json` (the SDK's own table).
 */
const PARTITION_REGIONS: ReadonlyArray<readonly [string, RegExp]> = [
  ["aws", /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/],
  ["aws-cn", /^cn-\w+-\d+$/],
  ["aws-us-gov", /^us-gov-\w+-\d+$/],
  ["aws-iso", /^us-iso-\w+-\d+$/],
  ["aws-iso-b", /^us-isob-\w+-\d+$/],
  ["aws-iso-e", /^eu-isoe-\w+-\d+$/],
  ["aws-iso-f", /^us-isof-\w+-\d+$/],
  ["aws-eusc", /^eusc-(de)-\w+-\d+$/],
];

/** The partition of a region name, or null when it is none of the known ones. */
export function partitionOfRegion(region: string | null | undefined): string | null {
  if (!region) return null;
  return PARTITION_REGIONS.find(([, re]) => re.test(region))?.[0] ?? null;
}

/**
 * aws_keys: an access key belongs to one partition, and only that partition's STS knows it (a
 * China or GovCloud key gets InvalidClientTokenId from sts.amazonaws.com). The registry's
 * `region` metadata key says which; without it the key is taken for the `aws` partition.
 */
export function accessKeyRegion(ctx: Pick<ConnectionTestContext, "metadata">): { region: string | null; partition: string | null } {
  const region = typeof ctx.metadata?.region === "string" && /^[a-z]{2,4}(-[a-z]+)+-\d+$/.test(ctx.metadata.region) ? ctx.metadata.region : null;
  return { region, partition: partitionOfRegion(region) };
}

const NOT_RUN = NOT_RUN_AFTER_AUTH;

/** How the platform names its sessions in the customer's CloudTrail. */
export function roleSessionName(org: string): string {
  const cleaned = `finops-cm-${org}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  return cleaned.length >= 2 ? cleaned : "finops-cm";
}

/** "long_term" for AKIA…, "temporary" for ASIA… (STS GetAccessKeyInfo doc). */
export function awsKeyKind(accessKeyId: string): string {
  if (accessKeyId.startsWith("AKIA")) return "long_term";
  if (accessKeyId.startsWith("ASIA")) return "temporary";
  return "unknown";
}

/** Partition and account of an IAM role ARN, or null when it is not one. */
export function parseRoleArn(arn: string): { partition: string; account: string } | null {
  const m = ROLE_ARN_RE.exec(arn);
  return m?.[1] && m[2] ? { partition: m[1], account: m[2] } : null;
}

/** The account id in any ARN (`arn:partition:service:region:account:…`), or null. */
function accountOfArn(arn: string | undefined): string | null {
  const account = arn?.split(":")[4];
  return account && /^\d{12}$/.test(account) ? account : null;
}

/** The region an AWS host signs for (`sts.eu-west-1.amazonaws.com` → eu-west-1), or null. */
function regionOfHost(url: string): string | null {
  try {
    const labels = new URL(url).hostname.split(".");
    const candidate = labels[1];
    return labels.length >= 3 && candidate && REGION_RE.test(candidate) ? candidate : null;
  } catch {
    return null;
  }
}

function isChinaHost(url: string): boolean {
  try {
    return new URL(url).hostname.endsWith(".amazonaws.com.cn");
  } catch {
    return false;
  }
}

/**
 * The STS endpoint and signing region. The registry default is the global endpoint of the `aws`
 * partition; for a role in another partition that default is replaced with the partition's own STS
 * (an override variable is always used as given).
 */
export function stsTarget(
  ctx: Pick<ConnectionTestContext, "endpoints">,
  partition: string | null,
  regionHint: string | null = null,
): { endpoint: string; region: string } {
  const configured = ctx.endpoints.sts_endpoint ?? DEFAULT_STS_ENDPOINT;
  const part = partition ? PARTITIONS[partition] : undefined;
  if (part && partition !== "aws" && configured.replace(/\/+$/, "") === DEFAULT_STS_ENDPOINT) {
    // The partition's regional STS (sts.<region>.<dnsSuffix>): the given region's, else the partition's default one.
    const region = regionHint && partitionOfRegion(regionHint) === partition ? regionHint : part.region;
    return { endpoint: `https://sts.${region}.${part.dnsSuffix}`, region };
  }
  const region = regionOfHost(configured) ?? (isChinaHost(configured) ? "cn-northwest-1" : (part?.region ?? "us-east-1"));
  return { endpoint: configured, region };
}

/**
 * The Cost Explorer endpoint and signing region: us-east-1 (`ce.us-east-1.amazonaws.com`), or
 * cn-northwest-1 for the China partition (docs/providers.md, "AWS, access keys").
 */
export function ceTarget(ctx: ConnectionTestContext, partition: string | null): { endpoint: string; region: string } {
  const configured = ctx.endpoints.ce_endpoint ?? DEFAULT_CE_ENDPOINT;
  if (partition === "aws-cn" && configured.replace(/\/+$/, "") === DEFAULT_CE_ENDPOINT) {
    return { endpoint: CN_CE_ENDPOINT, region: "cn-northwest-1" };
  }
  const region = regionOfHost(configured) ?? (isChinaHost(configured) ? "cn-northwest-1" : "us-east-1");
  return { endpoint: configured, region };
}

// ---------------------------------------------------------------------------------------------
// Calling the SDK

interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options every client shares: one attempt, the test's timeouts, an explicit endpoint. */
function clientConfig(ctx: ConnectionTestContext, endpoint: string, region: string, credentials?: AwsCredentials) {
  return {
    endpoint,
    region,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: ctx.timeoutMs,
      requestTimeout: ctx.timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: ctx.timeoutMs,
    }),
    // Without `credentials` the client uses the SDK's default chain (the platform's own identity).
    ...(credentials ? { credentials } : {}),
  };
}

class DeadlineError extends Error {
  override name = "TimeoutError";
}

/**
 * Runs one SDK call with an overall deadline of ctx.timeoutMs. The handler's own timeouts cover the
 * HTTP exchange; this also bounds credential resolution (an instance-metadata probe, for example).
 */
async function withDeadline<T>(ctx: ConnectionTestContext, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new DeadlineError("deadline"));
    }, ctx.timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Error classification

/** Which call failed: it decides whose fault an error is and what to tell the person. */
type Operation =
  | "caller_identity" // aws_keys: the customer's keys on STS
  | "keys_costs" // aws_keys: the customer's keys on Cost Explorer
  | "assume_role" // the platform's identity on STS, asking for the customer's role
  | "role_costs" // the role's fresh credentials on Cost Explorer
  | "role_bedrock"; // the role's fresh credentials on Bedrock

interface AwsErrorInfo {
  /** The AWS error code, when it is a safe token. */
  code: string | null;
  /** HTTP status when AWS answered, else null (network, timeout, credential chain). */
  status: number | null;
  headers: Headers;
  /** AWS's own message: inspected for a few known phrases, never shown. */
  text: string;
}

function errorInfo(err: unknown): AwsErrorInfo {
  const e = (err ?? {}) as {
    name?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { headers?: unknown };
  };
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : null;
  const headers = new Headers();
  const raw = e.$response?.headers;
  if (raw && typeof raw === "object") {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v === "string") {
        try {
          headers.set(k, v);
        } catch {
          // a header name or value fetch's Headers refuses: not one we read
        }
      }
    }
  }
  return {
    code: safeToken(e.Code) ?? safeToken(e.name),
    status,
    headers,
    text: typeof e.message === "string" ? e.message : "",
  };
}

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "LimitExceededException", // Cost Explorer's throttling error
  "SlowDown",
]);
const UNKNOWN_KEY = new Set([
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
  "AuthFailure",
  "InvalidToken",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
]);
const BAD_SIGNATURE = new Set(["SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature", "IncompleteSignatureException"]);
const EXPIRED = new Set(["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"]);
const DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "Forbidden"]);
const SERVER = new Set([
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalFailure",
  "InternalError",
  "InternalServerError",
  "InternalServerException",
  "InternalServiceError",
]);

const SERVICE_NAMES: Record<Operation, string> = {
  caller_identity: "AWS STS",
  keys_costs: "AWS Cost Explorer",
  assume_role: "AWS STS",
  role_costs: "AWS Cost Explorer",
  role_bedrock: "Amazon Bedrock",
};

const OPERATOR_IDENTITY_HINT =
  "Operators: check the AWS identity this server runs with (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, " +
  "or the container/instance role). This is not a problem with your role.";

export const AWS_NO_PLATFORM_IDENTITY_MESSAGE =
  "The platform has no AWS identity configured: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run the server " +
  "with a container/instance role) so that it can assume customer roles, then try again. This is an operator setting, not a problem with your role.";

/** What to grant, from the registry's cost_permissions for this provider (never a hand copy). */
function grantHint(ctx: ConnectionTestContext, who: string): string {
  const actions = definitionOf(ctx).cost_permissions.filter((p) => /^[a-z0-9-]+:[A-Za-z*]+$/.test(p));
  return `Grant ${actions.join(", ")} to ${who} in IAM, and check that no service control policy denies it.`;
}
const CE_NOT_ENABLED =
  "Cost Explorer has no data for this account: it must be enabled in the payer (management) account " +
  "(Billing and Cost Management → Cost Explorer → Launch Cost Explorer); data appears within about 24 hours.";

function trustPolicyHint(roleArn: string): string {
  return (
    `AWS refused to let the platform assume ${roleArn} (AccessDenied). Check that the role ARN is right and that the role's trust policy ` +
    "allows the platform's AWS principal to call sts:AssumeRole with the condition sts:ExternalId equal to this organization's external ID: " +
    "both are shown by setup-info (GET /integrations/{org}/{provider}/setup-info), with a ready trust policy to copy. " +
    "If the trust policy is already right, the operators should check that the platform's own identity may call sts:AssumeRole."
  );
}

/** A rate_limited body: Retry-After when AWS sent one, else 60 s. */
function throttled(ctx: ConnectionTestContext, service: string, info: AwsErrorInfo): CheckBody {
  const retry = parseRetryAfter(info.headers, ctx.now()) ?? 60;
  return {
    outcome: "rate_limited",
    message:
      `${service} is throttling requests${tokenSuffix(info.code)}. Try again in ${retry} s; ` +
      "if it keeps happening, other tools may be using up this account's API quota.",
    retry_after_s: retry,
  };
}

function isCredentialChainError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "CredentialsProviderError";
}

/** True when the error (or its cause chain) carries a Node/undici network error code. */
function hasNetworkCode(err: unknown, depth = 0): boolean {
  if (depth > 5 || err === null || typeof err !== "object") return false;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && /^(E[A-Z]+|UND_ERR_\w+|CERT_\w+|ERR_TLS_\w+|ERR_SSL_\w+|UNABLE_TO_\w+|SELF_SIGNED\w*|DEPTH_ZERO\w*)$/.test(e.code)) {
    return true;
  }
  if (hasNetworkCode(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => hasNetworkCode(inner, depth + 1));
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError" || err instanceof DeadlineError;
}

/** Maps any error of an SDK call to a check body with a message for a person. */
export function classifyAwsError(
  ctx: ConnectionTestContext,
  op: Operation,
  endpoint: string,
  err: unknown,
  details: { roleArn?: string; region?: string; temporaryKey?: boolean } = {},
): CheckBody {
  const service = SERVICE_NAMES[op];
  const info = errorInfo(err);

  if (info.status === null) {
    if (op === "assume_role" && isCredentialChainError(err)) {
      return { outcome: "provider_error", message: AWS_NO_PLATFORM_IDENTITY_MESSAGE };
    }
    if (isTimeout(err)) {
      return {
        outcome: "timeout",
        message:
          `${service} did not answer within ${formatDuration(ctx.timeoutMs)} at ${originOf(endpoint)}. ` +
          "Try again; if it persists, check the AWS Health Dashboard and this server's network path to AWS.",
      };
    }
    if (hasNetworkCode(err)) {
      const body = classifyFetchError({ ...ctx, providerName: service }, endpoint, err);
      if (body.outcome === "network" && op === "role_bedrock") {
        body.message += " Also check that Bedrock is offered in the region you chose.";
      }
      return body;
    }
    return {
      outcome: "provider_error",
      message: "The connection test failed unexpectedly before AWS answered. Try again; if it persists, report it to the operators.",
    };
  }

  const { code, status } = info;
  const fromPlatform = op === "assume_role";
  const fromRole = op === "role_costs" || op === "role_bedrock";

  if ((code && THROTTLING.has(code)) || status === 429) return throttled(ctx, service, info);

  if (code && UNKNOWN_KEY.has(code)) {
    if (fromPlatform) {
      return { outcome: "provider_error", message: `AWS did not recognise the platform's own access key${tokenSuffix(code)}, so no customer role can be assumed. ${OPERATOR_IDENTITY_HINT}` };
    }
    if (fromRole) {
      return { outcome: "provider_error", message: `${service} did not accept the credentials STS had just issued for the role${tokenSuffix(code)}. Try again; if it persists, report it to the operators.` };
    }
    const temporary = details.temporaryKey
      ? " For a temporary (ASIA…) key, also check that the session token is the one issued with it."
      : "";
    return {
      outcome: "auth_failed",
      message:
        `AWS does not recognise this access key ID${tokenSuffix(code)}: check it was copied whole and is active ` +
        `(IAM → Users → Security credentials).${temporary} Keys of AWS China or GovCloud only work against that partition's endpoints.`,
    };
  }

  if (code && BAD_SIGNATURE.has(code)) {
    if (/signature expired/i.test(info.text)) {
      return {
        outcome: "provider_error",
        message: `${service} rejected the request's timestamp (${code}, signature expired): this server's clock is off by more than 5 minutes. Operators: fix the clock (NTP), then try again.`,
      };
    }
    if (fromPlatform) {
      return { outcome: "provider_error", message: `AWS rejected the signature made with the platform's own secret access key${tokenSuffix(code)}, so no customer role can be assumed. ${OPERATOR_IDENTITY_HINT}` };
    }
    if (fromRole) {
      return { outcome: "provider_error", message: `${service} rejected the signature made with the role's fresh credentials${tokenSuffix(code)}. Try again; if it persists, report it to the operators.` };
    }
    return {
      outcome: "auth_failed",
      message:
        `The secret access key does not match the access key ID${tokenSuffix(code)}: paste the secret that was shown when this key was created ` +
        "(AWS shows it only once; if it is lost, create a new access key and deactivate the old one).",
    };
  }

  if (code && EXPIRED.has(code)) {
    if (fromPlatform) {
      return { outcome: "provider_error", message: `The platform's own AWS session has expired${tokenSuffix(code)}, so no customer role can be assumed. ${OPERATOR_IDENTITY_HINT}` };
    }
    if (fromRole) {
      return { outcome: "provider_error", message: `${service} said the role's fresh session had expired${tokenSuffix(code)}: check this server's clock, then try again.` };
    }
    return {
      outcome: "expired",
      message:
        `AWS says these credentials have expired${tokenSuffix(code)}. Temporary (ASIA…) keys last at most 36 hours: upload fresh ones ` +
        "together with their session token, or better, use a long-term access key or the IAM role setup. " +
        (code === "RequestExpired" ? "If the key is still valid, this server's clock may be off by more than 5 minutes." : ""),
    };
  }

  if ((code && DENIED.has(code)) || status === 403) {
    switch (op) {
      case "assume_role":
        return { outcome: "permission_denied", message: trustPolicyHint(details.roleArn ?? "the role") };
      case "keys_costs":
      case "role_costs":
        if (/not enabled for cost explorer/i.test(info.text)) return { outcome: "not_found", message: CE_NOT_ENABLED };
        return {
          outcome: "permission_denied",
          message: `${op === "role_costs" ? "The role" : "This access key"} may not read Cost Explorer${tokenSuffix(code)}. ${grantHint(ctx, op === "role_costs" ? "the role" : "this identity")}`,
        };
      case "role_bedrock":
        return {
          outcome: "permission_denied",
          message: `The role may not list Bedrock foundation models in ${details.region ?? "this region"}${tokenSuffix(code)}. ${grantHint(ctx, "the role")}`,
        };
      case "caller_identity":
        return {
          outcome: "permission_denied",
          message: `AWS refused STS GetCallerIdentity for this key${tokenSuffix(code)}, which needs no permission: check for an organization policy that blocks this key or its region.`,
        };
    }
  }

  if (code === "DataUnavailableException") return { outcome: "not_found", message: `${CE_NOT_ENABLED} (${code})` };

  if (code === "RegionDisabledException") {
    return {
      outcome: "permission_denied",
      message:
        "STS is not activated for the role's account in the region the platform calls (RegionDisabledException): " +
        "activate it in IAM → Account settings → Security Token Service (STS) endpoints, or ask the operators to use another STS endpoint.",
    };
  }

  if ((code && SERVER.has(code)) || status >= 500) {
    return {
      outcome: "provider_error",
      message: `${service} answered ${status}${tokenSuffix(code)}: this is on AWS's side, try again later (the AWS Health Dashboard shows ongoing incidents).`,
    };
  }

  if (status === 404 || code === "UnknownOperationException" || code === "ResourceNotFoundException") {
    return {
      outcome: "not_found",
      message:
        `${service} answered ${status}${tokenSuffix(code)} at ${originOf(endpoint)}: check the configured AWS endpoint` +
        (op === "role_bedrock" ? " and that Bedrock is offered in the region you chose." : "."),
    };
  }

  if (status >= 200 && status <= 299) {
    return {
      outcome: "provider_error",
      message: `${service} answered at ${originOf(endpoint)} but not in the expected format. Check the configured AWS endpoint and any proxy between this server and AWS.`,
    };
  }

  return {
    outcome: "provider_error",
    message: `${service} answered an unexpected HTTP ${status}${tokenSuffix(code)}. Try again later; if it persists, report it to the operators.`,
  };
}

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
    // No `credentials`: the SDK's default provider chain supplies the platform's own identity.
    const client = new STSClient(clientConfig(ctx, sts.endpoint, sts.region));
    try {
      const out = await withDeadline(ctx, (abortSignal) =>
        client.send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: roleSessionName(ctx.org),
            DurationSeconds: 900,
            ...(ctx.externalId ? { ExternalId: ctx.externalId } : {}),
          }),
          { abortSignal },
        ),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
        return classifyAwsError(ctx, "assume_role", sts.endpoint, { $metadata: { httpStatusCode: 200 } });
      }
      credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
      account = { id: accountOfArn(out.AssumedRoleUser?.Arn) ?? parsed.account, name: roleArn };
      return { outcome: "ok" };
    } catch (err) {
      return classifyAwsError(ctx, "assume_role", sts.endpoint, err, { roleArn });
    } finally {
      client.destroy();
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
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("GetSessionToken returned no credentials");
    return {
      kind: "aws",
      provider: ctx.provider,
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
      region,
      expires_at: c.Expiration.toISOString(),
    };
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
  // No `credentials`: the platform's own identity from the SDK's default chain, as in the test.
  const client = new STSClient(pipelineClientConfig(ctx, sts.endpoint, sts.region));
  try {
    const out = await withDeadline(ctx, (abortSignal) =>
      client.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          // Distinct from the connection test's session name, so the customer's CloudTrail tells them apart.
          RoleSessionName: `finops-pipeline-${ctx.org}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64),
          ...(ctx.externalId ? { ExternalId: ctx.externalId } : {}),
          DurationSeconds: 3600,
        }),
        { abortSignal },
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("AssumeRole returned no credentials");
    return {
      kind: "aws",
      provider: ctx.provider,
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
      region: credentialString(ctx, "region") ?? sts.region,
      expires_at: c.Expiration.toISOString(),
    };
  } finally {
    client.destroy();
  }
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
