import "server-only";

import { classifyFetchError, formatDuration, originOf, parseRetryAfter, safeToken, tokenSuffix, type CheckBody, definitionOf } from "../http";

import type { ConnectionTestContext } from "../types";

import { DeadlineError } from "./sts";

/** How an AWS error (from any of the three clients) becomes a verdict a person can act on. */

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
      // A Region the account has not enabled (opt-in Regions) answers fresh, valid credentials with
      // UnrecognizedClientException / InvalidClientTokenId, "The security token included in the
      // request is invalid" (observed: epsagon/clear-lambda-storage#9, aws/chalice#1445,
      // brefphp/extra-php-extensions#384); so does one that gets a global-endpoint STS token
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_enable-regions.html).
      const optIn =
        op === "role_bedrock"
          ? ` If ${details.region ?? "the Bedrock Region"} is an opt-in Region, check that it is enabled for the role's account (Account → AWS Regions).`
          : "";
      return { outcome: "provider_error", message: `${service} did not accept the credentials STS had just issued for the role${tokenSuffix(code)}.${optIn} Try again; if it persists, report it to the operators.` };
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
