import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

import {
  FAKE_AWS_IDENTITIES,
  FAKE_AWS_OTHER_ACCOUNT,
  FAKE_AWS_PLATFORM_ACCOUNT,
  FAKE_AWS_ROLE_ARN_UNTRUSTED,
  type AwsPermissions,
  type FakeAwsIdentity,
} from "./aws-keys";
import { header, startFakeServer, type FakeReply, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * One local stand-in for the three AWS APIs the connection tests call, answering like the real
 * services (docs/providers.md, "AWS, access keys", "AWS, IAM role" and "AWS Bedrock"; the official clients are
 * pointed here by the endpoint variables, docs/operations.md, "Provider endpoints"):
 *
 * - STS (query protocol): form POST `Action=GetCallerIdentity|AssumeRole&Version=2011-06-15`, XML
 *   answers, errors as `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`.
 * - Cost Explorer (JSON 1.1): POST with `X-Amz-Target: AWSInsightsIndexService.GetCostAndUsage`,
 *   errors as `{"__type": …, "Message": …}` with 400.
 * - Bedrock (REST-JSON): `GET /foundation-models`, errors with the `x-amzn-ErrorType` header.
 *
 * A request is routed by the service of its SigV4 credential scope (`sts`, `ce`, `bedrock`), then by
 * X-Amz-Target or path. The SigV4 signature is VERIFIED: the fake rebuilds the canonical request
 * from what it received (method, path, query, the SignedHeaders' received values, the payload hash)
 * and signs it with the secret it knows for that access key id. Unknown key → InvalidClientTokenId
 * (UnrecognizedClientException on the JSON services); wrong signature → SignatureDoesNotMatch
 * (InvalidSignatureException); temporary keys need their X-Amz-Security-Token; an expired one
 * answers ExpiredToken (ExpiredTokenException).
 *
 * AssumeRole checks the role's trust (caller's account and the ExternalId registered with
 * `trustRole`), then issues fresh ASIA credentials that the fake accepts for Cost Explorer and
 * Bedrock with the role's permissions.
 *
 * Sources, beside what the connection test relies on:
 * - STS actions, parameters and the query protocol: botocore `botocore/data/sts/2011-06-15/
 *   service-2.json`; https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
 *   (needs no permission), API_AssumeRole.html, API_GetSessionToken.html;
 * - the common errors (InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken, AccessDenied,
 *   Throttling): https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and
 *   API_AssumeRole.html "Errors"; the AccessDenied message naming sts:AssumeRole is observed
 *   (aws-azure-login#251, terraform-provider-aws issues);
 * - Cost Explorer GetCostAndUsage, its errors (AccessDeniedException, DataUnavailableException,
 *   LimitExceededException) and its price ($0.01 per request):
 *   https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html and
 *   https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/;
 * - Bedrock ListFoundationModels (GET /foundation-models) and `x-amzn-ErrorType`:
 *   https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html;
 * - SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html; partitions and
 *   their STS hosts: aws-sdk-js-v3 packages/util-endpoints/src/lib/aws/partitions.json.
 *
 * Control plane for tests in another process: `POST /__fake/trust-role` with JSON
 * `{"role_arn", "external_id" (string or null), "ce", "bedrock"}` does what `trustRole` does.
 */

export type AwsService = "sts" | "ce" | "bedrock";
export type AwsFakeMode = "normal" | "throttled" | "unavailable" | "hang";

/** What the fake concluded about a request's SigV4 signature. */
export interface AwsRequestVerdict {
  service: AwsService | null;
  region: string | null;
  accessKeyId: string | null;
  /** STS Action, CE target operation, or "ListFoundationModels". */
  operation: string | null;
  /** The request carried a well-formed SigV4 Authorization header. */
  signed: boolean;
  /** The signature matched the one the fake computed with the key's secret (null: key unknown). */
  signatureValid: boolean | null;
  /** The X-Amz-Security-Token header, when present. */
  sessionToken: string | null;
  /** "ok" or the error code the fake answered with. */
  result: string;
}

export interface AwsRecordedRequest extends RecordedRequest {
  /** Set for every request the fake routed (absent for control-plane calls). */
  aws?: AwsRequestVerdict;
}

export interface AwsRole {
  arn: string;
  account: string;
  name: string;
  /** The ExternalId the trust policy requires, or null for a trust policy without that condition. */
  externalId: string | null;
  /** The account whose principals the trust policy allows. */
  principalAccount: string;
  permissions: AwsPermissions;
}

export interface AwsAssumeRoleCall {
  roleArn: string;
  externalId: string | null;
  roleSessionName: string;
  durationSeconds: number | null;
  callerAccessKeyId: string;
  result: string;
}

export interface AwsFake {
  /** Origin, e.g. "http://127.0.0.1:41234": use it for sts_endpoint, ce_endpoint and bedrock_endpoint. */
  url: string;
  port: number;
  requests: AwsRecordedRequest[];
  /** Forces a behaviour for every request, or only for one service; "normal" restores. */
  setMode(mode: AwsFakeMode, opts?: { service?: AwsService; retryAfterS?: number | null }): void;
  clearRequests(): void;
  close(): Promise<void>;
  /** Adds (or replaces) an access key the fake accepts. */
  addIdentity(identity: FakeAwsIdentity): void;
  /**
   * Registers a role whose trust policy allows the platform account (or `opts.principalAccount`)
   * with `sts:ExternalId` = externalId (null: no external-ID condition), granting `permissions`.
   */
  trustRole(
    roleArn: string,
    externalId: string | null,
    permissions?: Partial<AwsPermissions>,
    opts?: { principalAccount?: string },
  ): void;
  /** Every AssumeRole call, accepted or not. */
  assumeRoleCalls: AwsAssumeRoleCall[];
  /** Credentials AssumeRole and GetSessionToken issued (their secrets and tokens), newest last. */
  issued: FakeAwsIdentity[];
  /** Every GetSessionToken call, accepted or not. */
  sessionTokenCalls: Array<{ callerAccessKeyId: string }>;
}

const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";
const CE_TARGET_PREFIX = "AWSInsightsIndexService.";
const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,\s*SignedHeaders=([^\s,]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;
const ROLE_ARN_RE = /^arn:([\w-]+):iam::(\d{12}):role\/(?:[\x21-\x7E]*\/)?([\w+=,.@-]{1,64})$/;
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// SigV4 (the verifier; the SDK does the signing)

/** RFC 3986 percent-encoding as SigV4 wants it. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Canonical URI: normalized path, each segment encoded (again: non-S3 services double-encode). */
function canonicalUri(rawPath: string): string {
  const pathname = rawPath.split("?")[0] || "/";
  const out: string[] = [];
  for (const segment of pathname.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(uriEncode(segment));
  }
  const joined = `/${out.join("/")}`;
  return pathname.endsWith("/") && joined !== "/" ? `${joined}/` : joined;
}

function canonicalQuery(rawPath: string): string {
  const q = rawPath.includes("?") ? rawPath.slice(rawPath.indexOf("?") + 1) : "";
  if (!q) return "";
  return q
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const i = p.indexOf("=");
      const k = i === -1 ? p : p.slice(0, i);
      const v = i === -1 ? "" : p.slice(i + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .filter(([k]) => k !== "X-Amz-Signature")
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

interface ParsedAuth {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(req: RecordedRequest): ParsedAuth | null {
  const value = header(req, "authorization");
  const m = value ? AUTH_RE.exec(value) : null;
  if (!m) return null;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m;
  if (!accessKeyId || !date || !region || !service || !signedHeaders || !signature) return null;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(";"), signature };
}

/** Why the signature cannot match, or null when it does. */
function verifySignature(req: RecordedRequest, auth: ParsedAuth, secret: string): string | null {
  const amzDate = header(req, "x-amz-date");
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return "missing or malformed X-Amz-Date";
  if (amzDate.slice(0, 8) !== auth.date) return "credential scope date does not match X-Amz-Date";
  if (!auth.signedHeaders.includes("host") || !auth.signedHeaders.includes("x-amz-date")) return "host and x-amz-date must be signed";
  const sorted = [...auth.signedHeaders].sort();
  if (sorted.join(";") !== auth.signedHeaders.join(";")) return "SignedHeaders must be sorted";

  const canonicalHeaders = auth.signedHeaders
    .map((name) => {
      const raw = req.headers[name];
      const value = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
      return `${name}:${value.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  // The signed payload hash: x-amz-content-sha256 when sent (it must then match the body), else the body's.
  const bodyHash = sha256Hex(Buffer.from(req.body, "utf8"));
  const declaredHash = header(req, "x-amz-content-sha256");
  if (declaredHash !== null && declaredHash !== "UNSIGNED-PAYLOAD" && declaredHash !== bodyHash) {
    return "x-amz-content-sha256 does not match the body";
  }
  const payloadHash = declaredHash ?? bodyHash;
  const canonicalRequest = [
    req.method,
    canonicalUri(req.path),
    canonicalQuery(req.path),
    canonicalHeaders,
    auth.signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${secret}`, auth.date);
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, auth.service);
  const kSigning = hmac(kService, "aws4_request");
  const expected = Buffer.from(createHmac("sha256", kSigning).update(stringToSign, "utf8").digest("hex"), "utf8");
  const given = Buffer.from(auth.signature, "utf8");
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "signature mismatch";
  return null;
}

function amzDateToMs(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

// ---------------------------------------------------------------------------------------------
// Answers in each protocol's shape

function xmlEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function stsReply(status: number, xml: string, extra: Record<string, string> = {}): FakeReply {
  const requestId = randomUUID();
  return {
    status,
    headers: { "content-type": "text/xml", "x-amzn-requestid": requestId, ...extra },
    body: xml.replace("{REQUEST_ID}", requestId),
  };
}

function stsError(status: number, code: string, message: string, extra: Record<string, string> = {}): FakeReply {
  const type = status >= 500 ? "Receiver" : "Sender";
  return stsReply(
    status,
    `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>{REQUEST_ID}</RequestId></ErrorResponse>`,
    extra,
  );
}

function jsonReply(status: number, body: unknown, extra: Record<string, string> = {}): FakeReply {
  return {
    status,
    headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID(), ...extra },
    body: JSON.stringify(body),
  };
}

/** Cost Explorer (JSON 1.1): `{"__type", "Message"}`. */
function ceError(status: number, type: string, message: string, extra: Record<string, string> = {}): FakeReply {
  return jsonReply(status, { __type: type, Message: message }, extra);
}

/** Bedrock (REST-JSON): the code travels in x-amzn-ErrorType, the body has `message`. */
function bedrockError(status: number, type: string, message: string, extra: Record<string, string> = {}): FakeReply {
  return {
    status,
    headers: {
      "content-type": "application/json",
      "x-amzn-requestid": randomUUID(),
      "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.coral.service/`,
      ...extra,
    },
    body: JSON.stringify({ message }),
  };
}

/** The same failure in each service's own dialect. */
function serviceError(
  service: AwsService,
  kind: "unknown_key" | "bad_signature" | "expired" | "missing_auth" | "throttled" | "unavailable",
  detail = "",
  extra: Record<string, string> = {},
): FakeReply {
  const signatureMessage =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details." +
    (detail ? ` ${detail}` : "");
  switch (kind) {
    case "unknown_key":
      if (service === "sts") return stsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
      if (service === "ce") return ceError(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
      return bedrockError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
    case "bad_signature":
      if (service === "sts") return stsError(403, "SignatureDoesNotMatch", signatureMessage);
      if (service === "ce") return ceError(400, "InvalidSignatureException", signatureMessage);
      return bedrockError(403, "InvalidSignatureException", signatureMessage);
    case "expired":
      if (service === "sts") return stsError(400, "ExpiredToken", "The security token included in the request is expired");
      if (service === "ce") return ceError(400, "ExpiredTokenException", "The security token included in the request is expired");
      return bedrockError(403, "ExpiredTokenException", "The security token included in the request is expired");
    case "missing_auth":
      if (service === "sts") return stsError(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
      if (service === "ce") return ceError(400, "MissingAuthenticationTokenException", "Missing Authentication Token");
      return bedrockError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    case "throttled":
      if (service === "sts") return stsError(400, "Throttling", "Rate exceeded", extra);
      if (service === "ce") return ceError(400, "LimitExceededException", "You have exceeded the rate limit. Try again later.", extra);
      return bedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again.", extra);
    case "unavailable":
      if (service === "sts") return stsError(503, "ServiceUnavailable", "Service is unavailable. Please try again later.", extra);
      if (service === "ce") return ceError(503, "ServiceUnavailableException", "Service Unavailable", extra);
      return bedrockError(503, "ServiceUnavailableException", "Service Unavailable", extra);
  }
}

/** The service a request addresses, from its SigV4 scope, else from its shape (unsigned requests). */
function guessService(req: RecordedRequest, auth: ParsedAuth | null): AwsService | null {
  const scoped = auth?.service;
  if (scoped === "sts" || scoped === "ce" || scoped === "bedrock") return scoped;
  if (scoped) return null;
  if (header(req, "x-amz-target")?.startsWith(CE_TARGET_PREFIX)) return "ce";
  if (req.pathname.startsWith("/foundation-models")) return "bedrock";
  return "sts";
}

function parseForm(req: RecordedRequest): URLSearchParams {
  const params = new URLSearchParams(req.query);
  const type = header(req, "content-type") ?? "";
  if (req.method === "POST" && type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(req.body)) params.set(k, v);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// The fake

export async function startAwsFake(opts: FakeServerOptions = {}): Promise<AwsFake> {
  const identities = new Map<string, FakeAwsIdentity>(FAKE_AWS_IDENTITIES.map((i) => [i.accessKeyId, { ...i }]));
  const roles = new Map<string, AwsRole>();
  const modes = new Map<AwsService | "*", { mode: AwsFakeMode; retryAfterS: number | null }>();
  const assumeRoleCalls: AwsAssumeRoleCall[] = [];
  const issued: FakeAwsIdentity[] = [];
  const sessionTokenCalls: Array<{ callerAccessKeyId: string }> = [];

  function trustRole(
    roleArn: string,
    externalId: string | null,
    permissions: Partial<AwsPermissions> = {},
    o: { principalAccount?: string } = {},
  ): void {
    const m = ROLE_ARN_RE.exec(roleArn);
    if (!m?.[2] || !m[3]) throw new Error(`not an IAM role ARN: ${roleArn}`);
    roles.set(roleArn, {
      arn: roleArn,
      account: m[2],
      name: m[3],
      externalId,
      principalAccount: o.principalAccount ?? FAKE_AWS_PLATFORM_ACCOUNT,
      permissions: { ce: permissions.ce ?? false, bedrock: permissions.bedrock ?? false },
    });
  }
  // A role that trusts someone else: AssumeRole by the platform → AccessDenied.
  trustRole(FAKE_AWS_ROLE_ARN_UNTRUSTED, null, { ce: true, bedrock: true }, { principalAccount: FAKE_AWS_OTHER_ACCOUNT });

  function modeFor(service: AwsService): { mode: AwsFakeMode; retryAfterS: number | null } {
    return modes.get(service) ?? modes.get("*") ?? { mode: "normal", retryAfterS: null };
  }

  // --- STS ----------------------------------------------------------------------------------

  function getCallerIdentity(caller: FakeAwsIdentity): FakeReply {
    return stsReply(
      200,
      `<GetCallerIdentityResponse xmlns="${STS_NS}">
  <GetCallerIdentityResult>
    <Arn>${xmlEscape(caller.arn)}</Arn>
    <UserId>${xmlEscape(caller.userId)}</UserId>
    <Account>${caller.account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>{REQUEST_ID}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`,
    );
  }

  function assumeRole(caller: FakeAwsIdentity, params: URLSearchParams, verdict: AwsRequestVerdict): FakeReply {
    const roleArn = params.get("RoleArn") ?? "";
    const sessionName = params.get("RoleSessionName") ?? "";
    const externalId = params.get("ExternalId");
    const durationRaw = params.get("DurationSeconds");
    const duration = durationRaw === null ? 3600 : Number(durationRaw);
    const call: AwsAssumeRoleCall = {
      roleArn,
      externalId,
      roleSessionName: sessionName,
      durationSeconds: durationRaw === null ? null : duration,
      callerAccessKeyId: caller.accessKeyId,
      result: "ok",
    };
    assumeRoleCalls.push(call);
    const fail = (reply: FakeReply, code: string): FakeReply => {
      call.result = code;
      verdict.result = code;
      return reply;
    };

    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      return fail(stsError(400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"), "ValidationError");
    }
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      return fail(stsError(400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"), "ValidationError");
    }
    if (externalId !== null && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
      return fail(stsError(400, "ValidationError", "1 validation error detected: Value at 'externalId' failed to satisfy constraint"), "ValidationError");
    }
    const role = roles.get(roleArn);
    const denied = () =>
      fail(
        stsError(403, "AccessDenied", `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`),
        "AccessDenied",
      );
    if (!role || role.principalAccount !== caller.account) return denied();
    if (role.externalId !== null && externalId !== role.externalId) return denied();

    const accessKeyId = `ASIAFAKE${randomBytes(12).toString("hex").toUpperCase().slice(0, 12)}`;
    const secretAccessKey = `fake_${randomBytes(27).toString("base64url").slice(0, 35)}`;
    const sessionToken = `FakeSessionToken_${randomBytes(90).toString("base64url")}`;
    const expiresAt = Date.now() + duration * 1000;
    const roleId = `AROAFAKE${role.name.toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 12)}`;
    const arn = `arn:aws:sts::${role.account}:assumed-role/${role.name}/${sessionName}`;
    const identity: FakeAwsIdentity = {
      accessKeyId,
      secretAccessKey,
      sessionToken,
      account: role.account,
      arn,
      userId: `${roleId}:${sessionName}`,
      permissions: { ...role.permissions },
      expiresAt,
    };
    identities.set(accessKeyId, identity);
    issued.push(identity);
    return stsReply(
      200,
      `<AssumeRoleResponse xmlns="${STS_NS}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>${xmlEscape(identity.userId)}</AssumedRoleId>
      <Arn>${xmlEscape(arn)}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${accessKeyId}</AccessKeyId>
      <SecretAccessKey>${xmlEscape(secretAccessKey)}</SecretAccessKey>
      <SessionToken>${xmlEscape(sessionToken)}</SessionToken>
      <Expiration>${new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>{REQUEST_ID}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`,
    );
  }

  /**
   * GetSessionToken (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html):
   * only long-term IAM user keys may call it (temporary ones get AccessDenied); DurationSeconds
   * 900–129,600 (default 43,200); fresh ASIA credentials with the caller's identity and permissions.
   */
  function getSessionToken(caller: FakeAwsIdentity, params: URLSearchParams, verdict: AwsRequestVerdict): FakeReply {
    sessionTokenCalls.push({ callerAccessKeyId: caller.accessKeyId });
    if (caller.sessionToken) {
      verdict.result = "AccessDenied";
      return stsError(403, "AccessDenied", "Cannot call GetSessionToken with session credentials");
    }
    const durationRaw = params.get("DurationSeconds");
    const duration = durationRaw === null ? 43200 : Number(durationRaw);
    if (!Number.isInteger(duration) || duration < 900 || duration > 129600) {
      verdict.result = "ValidationError";
      return stsError(400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600");
    }
    const identity: FakeAwsIdentity = {
      ...caller,
      accessKeyId: `ASIAFAKE${randomBytes(12).toString("hex").toUpperCase().slice(0, 12)}`,
      secretAccessKey: `fake_${randomBytes(27).toString("base64url").slice(0, 35)}`,
      sessionToken: `FakeSessionToken_${randomBytes(90).toString("base64url")}`,
      permissions: { ...caller.permissions },
      expiresAt: Date.now() + duration * 1000,
    };
    identities.set(identity.accessKeyId, identity);
    issued.push(identity);
    return stsReply(
      200,
      `<GetSessionTokenResponse xmlns="${STS_NS}">
  <GetSessionTokenResult>
    <Credentials>
      <SessionToken>${xmlEscape(identity.sessionToken!)}</SessionToken>
      <SecretAccessKey>${xmlEscape(identity.secretAccessKey)}</SecretAccessKey>
      <Expiration>${new Date(identity.expiresAt!).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration>
      <AccessKeyId>${identity.accessKeyId}</AccessKeyId>
    </Credentials>
  </GetSessionTokenResult>
  <ResponseMetadata>
    <RequestId>{REQUEST_ID}</RequestId>
  </ResponseMetadata>
</GetSessionTokenResponse>
`,
    );
  }

  function sts(req: RecordedRequest, caller: FakeAwsIdentity, verdict: AwsRequestVerdict): FakeReply {
    const params = parseForm(req);
    const action = params.get("Action");
    verdict.operation = action;
    if (params.get("Version") !== "2011-06-15") {
      verdict.result = "InvalidParameterValue";
      return stsError(400, "InvalidParameterValue", "Invalid or missing Version");
    }
    if (action === "GetCallerIdentity") return getCallerIdentity(caller);
    if (action === "AssumeRole") return assumeRole(caller, params, verdict);
    if (action === "GetSessionToken") return getSessionToken(caller, params, verdict);
    verdict.result = "InvalidAction";
    return stsError(400, "InvalidAction", `Could not find operation ${action ?? ""} for version 2011-06-15`);
  }

  // --- Cost Explorer --------------------------------------------------------------------------

  function costExplorer(req: RecordedRequest, caller: FakeAwsIdentity, verdict: AwsRequestVerdict): FakeReply {
    const target = header(req, "x-amz-target") ?? "";
    const operation = target.startsWith(CE_TARGET_PREFIX) ? target.slice(CE_TARGET_PREFIX.length) : null;
    verdict.operation = operation;
    if (req.method !== "POST" || operation !== "GetCostAndUsage") {
      verdict.result = "UnknownOperationException";
      return ceError(400, "UnknownOperationException", "");
    }
    if (!caller.permissions.ce) {
      verdict.result = "AccessDeniedException";
      return ceError(
        400,
        "AccessDeniedException",
        `User: ${caller.arn} is not authorized to perform: ce:GetCostAndUsage on resource: arn:aws:ce:us-east-1:${caller.account}:/GetCostAndUsage because no identity-based policy allows the ce:GetCostAndUsage action`,
      );
    }
    let input: { TimePeriod?: { Start?: unknown; End?: unknown }; Granularity?: unknown; Metrics?: unknown };
    try {
      input = JSON.parse(req.body) as typeof input;
    } catch {
      verdict.result = "SerializationException";
      return ceError(400, "SerializationException", "");
    }
    const start = input.TimePeriod?.Start;
    const end = input.TimePeriod?.End;
    const day = /^\d{4}-\d{2}-\d{2}$/;
    if (typeof start !== "string" || typeof end !== "string" || !day.test(start) || !day.test(end) || start >= end) {
      verdict.result = "ValidationException";
      return ceError(400, "ValidationException", "Start date (and hour) should be before end date (and hour)");
    }
    if (!["DAILY", "MONTHLY", "HOURLY"].includes(String(input.Granularity)) || !Array.isArray(input.Metrics) || input.Metrics.length === 0) {
      verdict.result = "ValidationException";
      return ceError(400, "ValidationException", "Granularity and Metrics are required");
    }
    return jsonReply(200, {
      GroupDefinitions: [],
      ResultsByTime: [
        {
          TimePeriod: { Start: start, End: end },
          Total: { UnblendedCost: { Amount: "12.3456789", Unit: "USD" } },
          Groups: [],
          Estimated: true,
        },
      ],
      DimensionValueAttributes: [],
    });
  }

  // --- Bedrock --------------------------------------------------------------------------------

  function bedrock(req: RecordedRequest, caller: FakeAwsIdentity, region: string, verdict: AwsRequestVerdict): FakeReply {
    if (req.method !== "GET" || req.pathname !== "/foundation-models") {
      verdict.result = "UnknownOperationException";
      return bedrockError(404, "UnknownOperationException", "");
    }
    verdict.operation = "ListFoundationModels";
    if (!caller.permissions.bedrock) {
      verdict.result = "AccessDeniedException";
      return bedrockError(
        403,
        "AccessDeniedException",
        `User: ${caller.arn} is not authorized to perform: bedrock:ListFoundationModels because no identity-based policy allows the bedrock:ListFoundationModels action`,
      );
    }
    const model = (id: string, name: string, provider: string) => ({
      modelArn: `arn:aws:bedrock:${region}::foundation-model/${id}`,
      modelId: id,
      modelName: name,
      providerName: provider,
      inputModalities: ["TEXT"],
      outputModalities: ["TEXT"],
      responseStreamingSupported: true,
      customizationsSupported: [],
      inferenceTypesSupported: ["ON_DEMAND"],
      modelLifecycle: { status: "ACTIVE" },
    });
    return {
      status: 200,
      headers: { "content-type": "application/json", "x-amzn-requestid": randomUUID() },
      body: JSON.stringify({
        modelSummaries: [
          model("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic"),
          model("amazon.titan-text-express-v1", "Titan Text G1 - Express", "Amazon"),
        ],
      }),
    };
  }

  // --- Control plane --------------------------------------------------------------------------

  function control(req: RecordedRequest): FakeReply {
    if (req.method === "POST" && req.pathname === "/__fake/trust-role") {
      try {
        const body = JSON.parse(req.body) as { role_arn?: unknown; external_id?: unknown; ce?: unknown; bedrock?: unknown };
        if (typeof body.role_arn !== "string") throw new Error("role_arn");
        trustRole(body.role_arn, typeof body.external_id === "string" ? body.external_id : null, {
          ce: body.ce === true,
          bedrock: body.bedrock === true,
        });
        return { status: 204 };
      } catch {
        return { status: 400, body: { error: "expected {role_arn, external_id, ce, bedrock}" } };
      }
    }
    return { status: 404, body: { error: "unknown control route" } };
  }

  // --- Routing --------------------------------------------------------------------------------

  function handle(req: AwsRecordedRequest): FakeReply | "hang" {
    if (req.pathname.startsWith("/__fake/")) return control(req);

    const auth = parseAuthorization(req);
    const service = guessService(req, auth);
    const verdict: AwsRequestVerdict = {
      service,
      region: auth?.region ?? null,
      accessKeyId: auth?.accessKeyId ?? null,
      operation: null,
      signed: auth !== null,
      signatureValid: null,
      sessionToken: header(req, "x-amz-security-token"),
      result: "ok",
    };
    req.aws = verdict;
    if (!service) {
      verdict.result = "UnknownService";
      return stsError(400, "InvalidAction", "Unknown service in the credential scope");
    }
    const answer = (reply: FakeReply, code: string): FakeReply => {
      verdict.result = code;
      return reply;
    };

    const caller = auth ? identities.get(auth.accessKeyId) : undefined;
    let signatureProblem: string | null = null;
    if (auth && caller) {
      signatureProblem = verifySignature(req, auth, caller.secretAccessKey);
      verdict.signatureValid = signatureProblem === null;
    }

    const { mode, retryAfterS } = modeFor(service);
    if (mode === "hang") {
      verdict.result = "hang";
      return "hang";
    }
    const retryHeaders: Record<string, string> = retryAfterS === null ? {} : { "retry-after": String(retryAfterS) };
    if (mode === "throttled") return answer(serviceError(service, "throttled", "", retryHeaders), "Throttled");
    if (mode === "unavailable") return answer(serviceError(service, "unavailable"), "ServiceUnavailable");

    if (!auth) return answer(serviceError(service, "missing_auth"), "MissingAuthenticationToken");
    if (!caller) return answer(serviceError(service, "unknown_key"), "InvalidClientTokenId");
    if (caller.sessionToken !== undefined && verdict.sessionToken !== caller.sessionToken) {
      return answer(serviceError(service, "unknown_key"), "InvalidClientTokenId");
    }
    if (caller.sessionToken !== undefined && !auth.signedHeaders.includes("x-amz-security-token")) {
      return answer(serviceError(service, "bad_signature"), "SignatureDoesNotMatch");
    }
    if (caller.expired || (caller.expiresAt !== undefined && caller.expiresAt < Date.now())) {
      return answer(serviceError(service, "expired"), "ExpiredToken");
    }
    if (signatureProblem) return answer(serviceError(service, "bad_signature"), "SignatureDoesNotMatch");
    const skew = Math.abs(amzDateToMs(header(req, "x-amz-date") ?? "") - Date.now());
    if (!(skew <= MAX_CLOCK_SKEW_MS)) {
      return answer(serviceError(service, "bad_signature", "Signature expired: the request time is too far from the server time."), "SignatureDoesNotMatch");
    }

    if (service === "sts") return sts(req, caller, verdict);
    if (service === "ce") return costExplorer(req, caller, verdict);
    return bedrock(req, caller, auth.region, verdict);
  }

  const server = await startFakeServer<"normal">((req) => handle(req), "normal", opts);
  return {
    url: server.url,
    port: server.port,
    requests: server.requests as AwsRecordedRequest[],
    setMode(mode, o = {}) {
      const key = o.service ?? "*";
      if (mode === "normal") {
        if (key === "*") modes.clear();
        else modes.delete(key);
        return;
      }
      modes.set(key, { mode, retryAfterS: o.retryAfterS === undefined ? 7 : o.retryAfterS });
    },
    clearRequests: () => server.clearRequests(),
    close: () => server.close(),
    addIdentity(identity) {
      identities.set(identity.accessKeyId, { ...identity });
    },
    trustRole,
    assumeRoleCalls,
    issued,
    sessionTokenCalls,
  };
}
