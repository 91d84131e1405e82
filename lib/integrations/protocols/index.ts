import "server-only";
import type { ConnectionTestKind, ResolvedProvider } from "../registry-schema";
import type { EndpointEnvVar } from "../registry-schema";
import { AppError } from "../../errors";
import type { ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuth, Protocol } from "./types";
import type { RateLimiter } from "../../rate-limit";
import { authenticateOpenAI, openAISetupInfo, testOpenAI } from "./openai";
import { anthropicSetupInfo, authenticateAnthropic, testAnthropic } from "./anthropic";
import { authenticateGemini, geminiSetupInfo, testGemini } from "./gemini";
import { authenticateManual, manualSetupInfo, testManual } from "./manual";
import { authenticateOci, ociEndpointParams, ociSetupInfo, testOciApiKey } from "./oci";
import { authenticateGoogle, googleSetupInfo, testGcpServiceAccount } from "./gcp";
import { authenticateAwsKeys, authenticateAwsRole, awsKeysSetupInfo, awsRoleSetupInfo, testAwsAccessKeys, testAwsAssumeRole } from "./aws";
import { authenticateAzure, authenticateAzureOpenAI, azureOpenAISetupInfo, azureSetupInfo, testAzureOpenAI, testAzureServicePrincipal } from "./azure";

export type { ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuth, Protocol, SetupInfoParts } from "./types";

/**
 * Every provider protocol, by the registry's `connection_test.kind`: its connection test and its
 * pipeline authenticate(), side by side in one folder (protocols/<name>/). Exhaustive, so a kind
 * without a module is a type error; a provider speaking one of these is a registry entry only.
 */
export const PROTOCOLS: Record<ConnectionTestKind, Protocol> = {
  openai: { test: testOpenAI, authenticate: authenticateOpenAI, setupInfo: openAISetupInfo },
  anthropic: { test: testAnthropic, authenticate: authenticateAnthropic, setupInfo: anthropicSetupInfo },
  gemini: { test: testGemini, authenticate: authenticateGemini, setupInfo: geminiSetupInfo },
  manual: { test: testManual, authenticate: authenticateManual, setupInfo: manualSetupInfo },
  gcp_service_account: { test: testGcpServiceAccount, authenticate: authenticateGoogle, setupInfo: googleSetupInfo },
  aws_access_keys: { test: testAwsAccessKeys, authenticate: authenticateAwsKeys, setupInfo: awsKeysSetupInfo },
  aws_assume_role: { test: testAwsAssumeRole, authenticate: authenticateAwsRole, setupInfo: awsRoleSetupInfo },
  azure_service_principal: { test: testAzureServicePrincipal, authenticate: authenticateAzure, setupInfo: azureSetupInfo },
  azure_openai: { test: testAzureOpenAI, authenticate: authenticateAzureOpenAI, setupInfo: azureOpenAISetupInfo },
  oci_api_key: { test: testOciApiKey, authenticate: authenticateOci, setupInfo: ociSetupInfo, endpointParams: ociEndpointParams },
};

/** The connection tests alone (older imports). */
export const CONNECTION_TESTS: Record<ConnectionTestKind, ConnectionTest> = Object.fromEntries(
  Object.entries(PROTOCOLS).map(([kind, p]) => [kind, p.test]),
) as Record<ConnectionTestKind, ConnectionTest>;

/**
 * The context a protocol's test and authenticate() both receive. Built here once, so the two see
 * the same endpoints, the same canonical credential and the same metadata.
 */
export interface ProtocolOptions {
  timeoutMs: number;
  overrides: Partial<Record<EndpointEnvVar, string>>;
  fetch: typeof fetch;
  now: () => number;
  org: string;
  externalId: string;
  /** The integration's metadata (some tests read it: gcp's billing_export_table, aws_keys' region). */
  metadata?: Readonly<Record<string, unknown>>;
  /** The pacing gate (see pacing()); none: requests are not paced (the operator's smoke test). */
  pace?: () => Promise<void>;
}

const UNPACED = async (): Promise<void> => {};

export function protocolContext(provider: ResolvedProvider, credential: Record<string, unknown>, opts: ProtocolOptions): ConnectionTestContext {
  const pace = opts.pace ?? UNPACED;
  const send = opts.fetch;
  // ctx.fetch passes the gate like the SDK transports do: one gate for every way out.
  const fetch = async (input: Parameters<typeof globalThis.fetch>[0], init?: Parameters<typeof globalThis.fetch>[1]): Promise<Response> => {
    await pace();
    return send(input, init);
  };
  return {
    provider: provider.id,
    providerName: provider.name,
    credential,
    endpoints: resolveEndpoints(provider, credential, opts.overrides),
    timeoutMs: opts.timeoutMs,
    fetch: fetch as typeof globalThis.fetch,
    pace,
    now: opts.now,
    org: opts.org,
    externalId: opts.externalId,
    metadata: opts.metadata ?? {},
    definition: provider,
  };
}

/**
 * Endpoint bases for a provider: the override variable when set, else the registry default with
 * `{region}`/`{location}` filled from the credential. A default filled from user input must match
 * the provider's allowed host patterns (SSRF guard); an override is the operator's choice.
 */
export function resolveEndpoints(
  provider: ResolvedProvider,
  credential: Record<string, unknown>,
  overrides: Partial<Record<EndpointEnvVar, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  let derived: Record<string, string> | null = null;
  for (const [key, def] of Object.entries(provider.endpoints)) {
    const override = def.env ? overrides[def.env] : undefined;
    if (override) {
      out[key] = override;
      continue;
    }
    derived ??= PROTOCOLS[provider.connection_test.kind].endpointParams?.(credential) ?? {};
    const params = derived;
    let usedInput = false;
    let global = false;
    let value = def.default.replace(/\{(\w+)\}/g, (_m, name: string) => {
      usedInput = true;
      const given = credential[name] ?? params[name];
      const v = typeof given === "string" && given ? given : (def.param_defaults?.[name] ?? "");
      if (v === "global") global = true;
      return v;
    });
    if (global && def.global_url) value = def.global_url;
    if (usedInput && value) assertAllowedHost(provider, value);
    out[key] = value;
  }
  return out;
}

export function assertAllowedHost(provider: ResolvedProvider, url: string): void {
  let host: string;
  try {
    const u = new URL(url);
    if (u.protocol !== "https:") throw new Error("not https");
    host = u.hostname;
  } catch {
    throw new AppError("invalid_format", `The ${provider.name} endpoint is not a valid https URL.`);
  }
  const patterns = provider.allowed_hosts ?? [];
  if (!patterns.some((p) => new RegExp(p).test(host))) {
    throw new AppError("invalid_format", `The ${provider.name} endpoint host is not one this provider uses; requests are only sent to the provider's own hosts.`);
  }
}

/**
 * The provider's documented rate, from the registry: an operation (a connection test, a pipeline's
 * authenticate) that would exceed it is answered `rate_limited` with the time to wait, without
 * reaching the provider. The budget is per org and provider-side scope (e.g. an Azure
 * subscription) or per credential: one org's calls never spend another org's budget
 * (docs/security.md, "Pacing").
 */
async function throttleOrNull(
  provider: ResolvedProvider,
  credential: Record<string, unknown>,
  opts: { limiter?: RateLimiter; now: () => number; fingerprint?: string; org: string },
): Promise<ConnectionTestResult | null> {
  if (!opts.limiter) return null;
  const rl = provider.rate_limits;
  const scopeValue = rl.scope_field ? credential[rl.scope_field] : undefined;
  const scope = typeof scopeValue === "string" ? scopeValue : (opts.fingerprint ?? "-");
  const wait = await opts.limiter.take(`${opts.org}\u0000${provider.id}\u0000${scope}`, opts.now(), rl.requests_per_minute);
  if (wait === 0) return null;
  const first = provider.connection_test.checks[0]?.name ?? "authenticate";
  return {
    outcome: "rate_limited",
    duration_ms: 0,
    retry_after_s: wait,
    account: null,
    key_kind: null,
    checks: [
      {
        name: first,
        outcome: "rate_limited",
        duration_ms: 0,
        retry_after_s: wait,
        message: `${provider.name} allows about ${rl.requests_per_minute} calls per minute${rl.scope_field ? ` per ${rl.scope_field.replace(/_/g, " ")}` : ""} from this organization; try again in ${wait} s.`,
      },
    ],
  };
}

/** Run the provider's connection test with the configured timeout and endpoints, paced. */
export async function runConnectionTest(
  provider: ResolvedProvider,
  credential: Record<string, unknown>,
  opts: ProtocolOptions & { limiter?: RateLimiter; fingerprint?: string },
): Promise<ConnectionTestResult> {
  const paced = pacing(provider, credential, opts);
  const ctx = protocolContext(provider, credential, { ...opts, pace: paced.pace });
  const result = await PROTOCOLS[provider.connection_test.kind].test(ctx);
  // A refused gate means no request left: whatever the protocol made of the refusal (a network
  // error, an SDK's wrapped error) is replaced by the pacing verdict.
  return (await paced.throttled()) ?? result;
}

/**
 * A pipeline's authenticate() (lib/integrations/authenticate.ts), paced like a connection test and
 * on the same budget: the token exchange or STS call it makes reaches the same provider. A spent
 * budget throws `rate_limited` with `retryAfterS`, and nothing is sent.
 */
export async function runAuthenticate(
  provider: ResolvedProvider,
  credential: Record<string, unknown>,
  opts: ProtocolOptions & { limiter?: RateLimiter; fingerprint?: string },
): Promise<PipelineAuth> {
  const paced = pacing(provider, credential, opts);
  const ctx = protocolContext(provider, credential, { ...opts, pace: paced.pace });
  let value: PipelineAuth | undefined;
  let failure: unknown = null;
  try {
    value = await PROTOCOLS[provider.connection_test.kind].authenticate(ctx);
  } catch (e) {
    failure = e;
  }
  const throttled = await paced.throttled();
  if (throttled) {
    throw new AppError("rate_limited", failureMessage(throttled, provider.name), { retryAfterS: throttled.retry_after_s ?? 60 });
  }
  if (failure !== null || value === undefined) throw failure;
  return value;
}

/** Thrown by the pacing gate when the budget is spent: the request never leaves. */
class PacingRefused extends Error {
  constructor() {
    super("provider call paced: request not sent");
    this.name = "PacingRefused";
  }
}

/**
 * The pacing gate of one operation (ctx.pace). The unit is taken when the operation's first request
 * is about to leave for the provider, through any transport (ctx.fetch, the AWS SDK's request
 * handler, the Azure credential's pipeline, gaxios through ctx.fetch), not before: a setup refused
 * by a format check inside the test (a bad key, a wrong region, a foreign host) spends nothing.
 * One operation spends one unit however many requests it sends (a token, then the query): the
 * registry's rate counts tests, not their requests. Once refused, every later request of the
 * operation is refused too, so nothing at all leaves.
 */
function pacing(
  provider: ResolvedProvider,
  credential: Record<string, unknown>,
  opts: { limiter?: RateLimiter; now: () => number; fingerprint?: string; org: string },
): { pace: () => Promise<void>; throttled: () => Promise<ConnectionTestResult | null> } {
  let decision: Promise<ConnectionTestResult | null> | null = null;
  return {
    pace: async () => {
      decision ??= throttleOrNull(provider, credential, opts);
      if (await decision) throw new PacingRefused();
    },
    throttled: async () => (decision ? await decision : null),
  };
}

/** Statuses a finished test leaves an integration in, or null when the test reached no verdict. */
export function statusForOutcome(outcome: ConnectionTestResult["outcome"]): "active" | "invalid" | "expired" | null {
  switch (outcome) {
    case "ok":
    case "skipped":
      return "active";
    case "auth_failed":
    case "permission_denied":
    case "not_found":
      return "invalid";
    case "expired":
      return "expired";
    default:
      return null; // rate_limited, timeout, network, provider_error: says nothing about the credential
  }
}

/** The first failing check's message, for the top-level error message. */
export function firstFailure(result: ConnectionTestResult): string {
  const c = result.checks.find((x) => x.outcome !== "ok" && x.outcome !== "skipped");
  return c?.message ?? `The connection test ended with outcome ${result.outcome}.`;
}

/**
 * The error message for a test that did not pass: the first failing check's own message, which is
 * written for a person and already says what happened and what to do. It is prefixed with the
 * provider's name only when it does not name the provider itself, so nothing is said twice
 * ("OpenAI could not be reached: Could not reach OpenAI at …").
 */
export function failureMessage(result: ConnectionTestResult, providerName: string): string {
  const why = firstFailure(result);
  return why.includes(providerName) ? why : `${providerName}: ${why}`;
}

/** Throws the API error for a test that did not pass (422, 429, 502 or 504). */
export function assertTestPassedOrThrow(result: ConnectionTestResult, providerName: string): void {
  const message = failureMessage(result, providerName);
  switch (result.outcome) {
    case "ok":
    case "skipped":
      return;
    case "auth_failed":
    case "permission_denied":
    case "expired":
    case "not_found":
      throw new AppError("connection_test_failed", message, { connection_test: result });
    case "rate_limited":
      throw new AppError("rate_limited", message, {
        connection_test: result,
        retryAfterS: result.retry_after_s ?? 60,
      });
    case "timeout":
      throw new AppError("provider_timeout", message, { connection_test: result });
    case "network":
    case "provider_error":
      throw new AppError("provider_unreachable", message, { connection_test: result });
  }
}
