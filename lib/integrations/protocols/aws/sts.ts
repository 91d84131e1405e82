import "server-only";

import { NodeHttpHandler } from "@smithy/node-http-handler";

import type { ConnectionTestContext } from "../types";

/**
 * AWS endpoints, partitions and the SDK client settings the connection test and the pipelines
 * share (index.ts), so both reach the same STS with the same signing region.
 */

/**
 * The registry's default STS: the REGIONAL endpoint of us-east-1, not the legacy global
 * https://sts.amazonaws.com. "Session tokens from Regional AWS STS endpoints are valid in all AWS
 * Regions. Session tokens from the global STS endpoint are valid only in AWS Regions that are enabled
 * by default" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_enable-regions.html;
 * IAM SetSecurityTokenServicePreferences: v1 global tokens "do not work in manually enabled Regions,
 * such as Asia Pacific (Hong Kong)"). With the global endpoint, role credentials for Bedrock in an
 * opt-in Region would be refused there (UnrecognizedClientException) although the role is right.
 * The legacy global URL still counts as "the default" when a role of another partition needs its
 * own STS.
 */
const DEFAULT_STS_ENDPOINT = "https://sts.us-east-1.amazonaws.com";
const LEGACY_GLOBAL_STS_ENDPOINT = "https://sts.amazonaws.com";
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
export function accountOfArn(arn: string | undefined): string | null {
  const account = arn?.split(":")[4];
  return account && /^\d{12}$/.test(account) ? account : null;
}

/** The region an AWS host signs for (`sts.eu-west-1.amazonaws.com` → eu-west-1), or null. */
export function regionOfHost(url: string): string | null {
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
 * The STS endpoint and signing region. The registry default is us-east-1's regional endpoint in
 * the `aws` partition; for a role in another partition that default (or the legacy global one) is
 * replaced with the partition's own STS (any other override is used as given).
 */
export function stsTarget(
  ctx: Pick<ConnectionTestContext, "endpoints">,
  partition: string | null,
  regionHint: string | null = null,
): { endpoint: string; region: string } {
  const configured = ctx.endpoints.sts_endpoint ?? DEFAULT_STS_ENDPOINT;
  const part = partition ? PARTITIONS[partition] : undefined;
  const isDefault = [DEFAULT_STS_ENDPOINT, LEGACY_GLOBAL_STS_ENDPOINT].includes(configured.replace(/\/+$/, ""));
  if (part && partition !== "aws" && isDefault) {
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

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The SDK's Node.js handler, behind the provider pacing gate (ctx.pace): every request an SDK
 * client sends goes through its `requestHandler.handle(request, options)` — the last handler of
 * every command's middleware stack, after serialization, retries and signing (smithy-typescript
 * `packages/core/src/submodules/client/smithy-client/command.ts`, resolveMiddlewareWithContext:
 * `stack.resolve((request) => requestHandler.handle(request.request, requestOptions), …)`;
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/middleware-stack.html). A
 * `requestHandler` with a `handle` function is used as given (`NodeHttpHandler.create` in
 * `packages/node-http-handler/src/node-http-handler.ts`), and the
 * STS clients the default credential chain builds for a web-identity or profile role inherit the
 * parent client's handler (aws-sdk-js-v3 `packages/nested-clients/src/submodules/sts/defaultStsRoleAssumers.ts`,
 * `parentClientConfig.requestHandler`), so their calls pass the gate too. When the budget is spent
 * `pace` rejects before `super.handle`: no socket is opened.
 */
class PacedHttpHandler extends NodeHttpHandler {
  constructor(
    private readonly pace: () => Promise<void>,
    options: ConstructorParameters<typeof NodeHttpHandler>[0],
  ) {
    super(options);
  }

  override async handle(...args: Parameters<NodeHttpHandler["handle"]>): ReturnType<NodeHttpHandler["handle"]> {
    await this.pace();
    return super.handle(...args);
  }
}

/** Options every client shares: one attempt, the test's timeouts, an explicit endpoint, the pacing gate. */
export function clientConfig(ctx: ConnectionTestContext, endpoint: string, region: string, credentials?: AwsCredentials) {
  return {
    endpoint,
    region,
    maxAttempts: 1,
    requestHandler: new PacedHttpHandler(ctx.pace, {
      connectionTimeout: ctx.timeoutMs,
      requestTimeout: ctx.timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: ctx.timeoutMs,
    }),
    // Without `credentials` the client uses the SDK's default chain (the platform's own identity).
    ...(credentials ? { credentials } : {}),
  };
}

export class DeadlineError extends Error {
  override name = "TimeoutError";
}

/**
 * Runs one SDK call with an overall deadline of ctx.timeoutMs. The handler's own timeouts cover the
 * HTTP exchange; this also bounds credential resolution (an instance-metadata probe, for example).
 */
export async function withDeadline<T>(ctx: ConnectionTestContext, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
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
