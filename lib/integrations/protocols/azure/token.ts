import "server-only";

import { AzureAuthorityHosts, ClientSecretCredential, type ClientSecretCredentialOptions } from "@azure/identity";

import { classifyFetchError, combineChecks, credentialString, getPath, originOf, rateLimited, safeToken, skippedCheck, timed, toCheck, type CheckBody, type HttpReply, NOT_RUN_AFTER_AUTH } from "../http";
import type { ConnectionTestContext, ConnectionTestResult } from "../types";

/**
 * Shared by the Azure protocols (index.ts): the constants, the service principal's token from
 * Microsoft Entra ID with every failure classified (acquireAzureToken), and small helpers.
 */

export const AZURE_COST_QUERY_API_VERSION = "2023-11-01";
/** Month-to-date actual cost, one number: the smallest query that proves Cost Management read access. */
export const AZURE_COST_QUERY_BODY = {
  type: "ActualCost",
  timeframe: "MonthToDate",
  dataset: { granularity: "None", aggregation: { totalCost: { name: "Cost", function: "Sum" } } },
} as const;

/**
 * Token scopes for Azure OpenAI (docs/providers.md, "Azure OpenAI", https://github.com/openai/openai-node/blob/master/docs/azure.md): the v1 API
 * (`/openai/v1/...`, which /openai/v1/models is) is documented with `https://ai.azure.com/.default`;
 * the dated `api-version` API with `https://cognitiveservices.azure.com/.default`. We ask for the v1
 * scope first. Resources also accept the Cognitive Services audience (Microsoft's own v1 samples
 * use it), so it is the fallback when the tenant has no "Azure AI" resource principal (AADSTS500011)
 * or the resource answers 401 to the ai.azure.com token.
 */
export const AZURE_OPENAI_SCOPE = "https://ai.azure.com/.default";
export const AZURE_OPENAI_FALLBACK_SCOPE = "https://cognitiveservices.azure.com/.default";

/**
 * The registry's allowed_hosts for azure_openai (configs/system/providers.yml): the credential's own
 * endpoint must be one of the resource hosts; only AZURE_OPENAI_ENDPOINT_OVERRIDE can point elsewhere.
 */
export const AZURE_OPENAI_HOST_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}\.(openai\.azure\.com|cognitiveservices\.azure\.com)$/;

const DEFAULT_AUTHORITY_HOST = AzureAuthorityHosts.AzurePublicCloud;
export const DEFAULT_MANAGEMENT_BASE = "https://management.azure.com";
const ENTRA = "Microsoft Entra ID";
export const KEY_KIND = "client_secret";

/**
 * Microsoft's own sign-in hosts. For these MSAL keeps instance discovery and authority validation
 * (it has their metadata built in, so this costs no request). For any other host — a sovereign or
 * private cloud's, or a test fake — `disableInstanceDiscovery` is set: otherwise MSAL would ask
 * login.microsoftonline.com to vouch for a host it does not know, and fail (or leak the host name).
 */
export const MICROSOFT_AUTHORITY_HOSTS = new Set(
  [
    AzureAuthorityHosts.AzurePublicCloud,
    AzureAuthorityHosts.AzureChina,
    AzureAuthorityHosts.AzureGovernment,
    "https://login.microsoft.com",
    "https://login.windows.net",
  ].map((h) => h.toLowerCase()),
);

/** ARM hosts whose token audience is their own origin; any other management base (a fake) keeps the public audience. */
export const ARM_AUDIENCES = new Set(["https://management.azure.com", "https://management.chinacloudapi.cn", "https://management.usgovcloudapi.net"]);

/** The SDK's tenant rule (tenantIdUtils: `^[0-9a-zA-Z-.]+$`), minus empty labels such as "..". */
const TENANT_ID = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const GUID = /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;

export const NOT_RUN = NOT_RUN_AFTER_AUTH;

// ---------------------------------------------------------------------------------------------
// Token acquisition

type AdditionalPolicy = NonNullable<ClientSecretCredentialOptions["additionalPolicies"]>[number];
type PipelinePolicy = AdditionalPolicy["policy"];
type PipelineRequest = Parameters<PipelinePolicy["sendRequest"]>[0];

/** What one request the credential sent came back with. */
interface Observation {
  kind: "discovery" | "token" | "other";
  url: string;
  status?: number;
  retryAfter?: string;
  /** AAD's `error` (e.g. invalid_client), when the body had one. */
  aadError?: string | null;
  /** AAD's first error code (e.g. 7000215), from `error_codes` or the description's AADSTS number. */
  aadCode?: number | null;
  /** The transport error, when no response arrived. */
  error?: unknown;
}

export interface AzureSpn {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

type TokenOutcome =
  | { ok: true; token: string; expiresOnTimestamp: number | null; duration_ms: number }
  | { ok: false; check: CheckBody; aadCode: number | null; duration_ms: number };

function requestKind(url: string): Observation["kind"] {
  if (/\/\.well-known\/openid-configuration(\?|$)/.test(url)) return "discovery";
  if (/\/oauth2\/v2\.0\/token(\?|$)/.test(url)) return "token";
  return "other";
}

function parseAadBody(text: string | undefined): { aadError: string | null; aadCode: number | null } {
  if (!text) return { aadError: null, aadCode: null };
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    return { aadError: null, aadCode: null };
  }
  const aadError = safeToken(getPath(json, "error"));
  const codes = getPath(json, "error_codes");
  let aadCode: number | null = null;
  if (Array.isArray(codes) && typeof codes[0] === "number") aadCode = codes[0];
  if (aadCode === null) {
    const description = getPath(json, "error_description");
    const m = typeof description === "string" ? /AADSTS(\d{4,8})\b/.exec(description) : null;
    if (m?.[1]) aadCode = Number(m[1]);
  }
  return { aadError, aadCode };
}

/** The AADSTS number inside an error message from the SDK, or null. Only used to classify. */
function aadCodeFromMessage(err: unknown): number | null {
  const message = err instanceof Error ? err.message : typeof err === "string" ? err : "";
  const m = /AADSTS(\d{4,8})\b/.exec(message) ?? /Error\(s\):\s*(\d{4,8})\b/.exec(message);
  return m?.[1] ? Number(m[1]) : null;
}

/**
 * A per-call policy that gives every request a deadline of `timeoutMs` (calling onTimeout when it
 * fires), ties it to `signal`, and records what came back.
 */
function observerPolicy(signal: AbortSignal, timeoutMs: number, onTimeout: () => void, observations: Observation[]): PipelinePolicy {
  return {
    name: "finopsConnectionTestObserver",
    async sendRequest(request: PipelineRequest, next) {
      const own = request.abortSignal;
      const linked = new AbortController();
      const abort = () => linked.abort();
      if (signal.aborted || own?.aborted) linked.abort();
      signal.addEventListener("abort", abort, { once: true });
      own?.addEventListener("abort", abort);
      const timer = setTimeout(() => {
        onTimeout();
        linked.abort();
      }, timeoutMs);
      request.abortSignal = linked.signal;
      const observation: Observation = { kind: requestKind(request.url), url: request.url };
      try {
        const response = await next(request);
        observation.status = response.status;
        observation.retryAfter = response.headers.get("retry-after") ?? undefined;
        if (response.status >= 400) Object.assign(observation, parseAadBody(response.bodyAsText ?? undefined));
        observations.push(observation);
        return response;
      } catch (err) {
        observation.error = err;
        observations.push(observation);
        throw err;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", abort);
        own?.removeEventListener("abort", abort);
      }
    },
  };
}

/**
 * The provider pacing gate (ctx.pace) on every request the credential sends. ClientSecretCredential
 * hands its options to MSAL's network client, an IdentityClient (a core-client ServiceClient) built
 * from them (@azure/identity 4.x `src/msal/nodeFlows/msalClient.ts`, generateMsalConfiguration:
 * `new IdentityClient({ ...msalClientOptions.tokenCredentialOptions, … })` as
 * `system.networkClient`), so MSAL's metadata and token requests all run through this pipeline. A
 * `perRetry` policy is placed after the Sign phase, behind the retry and redirect policies, next to
 * the HttpClient (@azure/core-client `src/serviceClient.ts`: `position === "perRetry" ? "Sign"`;
 * https://learn.microsoft.com/javascript/api/@azure/core-client/additionalpolicyconfig): every
 * attempt and every redirect hop passes it. When the budget is spent it rejects before `next`,
 * so the HttpClient sends nothing.
 */
function pacingPolicy(pace: () => Promise<void>): PipelinePolicy {
  return {
    name: "finopsProviderPacing",
    async sendRequest(request: PipelineRequest, next) {
      await pace();
      return next(request);
    },
  };
}

function entraCtx(ctx: ConnectionTestContext): ConnectionTestContext {
  return { ...ctx, providerName: ENTRA };
}

/** What AAD's error code means for the person who pasted the credential. */
function aadFailure(spn: AzureSpn, code: number | null, aadError: string | null, authorityHost: string, scope: string): CheckBody {
  const tag = code !== null ? `AADSTS${code}` : (aadError ?? "no error code");
  switch (code) {
    case 7000215:
      return {
        outcome: "auth_failed",
        message:
          `${ENTRA} rejected the client secret (AADSTS7000215: invalid client secret). Paste the secret's VALUE — shown only once, ` +
          `when the secret is created — not its Secret ID (a GUID). If the value is lost, create a new client secret under ` +
          `App registrations → ${spn.clientId} → Certificates & secrets.`,
      };
    case 7000222:
      return {
        outcome: "expired",
        message:
          `The client secret has expired (AADSTS7000222). Create a new client secret under App registrations → ${spn.clientId} → ` +
          "Certificates & secrets, then save the new value here.",
      };
    case 700016:
      return {
        outcome: "not_found",
        message:
          `Application ${spn.clientId} was not found in tenant ${spn.tenantId} (AADSTS700016). Check client_id (the ` +
          `Application (client) ID, "appId") and tenant_id (the Directory (tenant) ID, "tenant"): the app may be registered ` +
          "in another tenant, or it was deleted.",
      };
    case 90002:
    case 900023:
    case 90013:
      return {
        outcome: "not_found",
        message:
          `Tenant ${spn.tenantId} was not found (${tag}). Check tenant_id (the Directory (tenant) ID, or a domain such as ` +
          `contoso.onmicrosoft.com), and that the tenant belongs to the cloud this server signs in to (${originOf(authorityHost)}).`,
      };
    case 7000218:
    case 900144:
      return {
        outcome: "auth_failed",
        message: `${ENTRA} received no client secret (${tag}). Paste the secret's value into client_secret.`,
      };
    case 7000112:
    case 700024:
      return {
        outcome: "auth_failed",
        message:
          `The application ${spn.clientId} is disabled in tenant ${spn.tenantId} (${tag}). Enable its service principal ` +
          `(Enterprise applications → Properties → "Enabled for users to sign-in") or use another app.`,
      };
    case 500011:
      return {
        outcome: "not_found",
        message:
          `Tenant ${spn.tenantId} does not know the resource ${scope.replace(/\/\.default$/, "")} (AADSTS500011). Check that ` +
          "tenant_id is the tenant that owns the subscription or resource.",
      };
    case 53003:
    case 53000:
    case 53001:
      return {
        outcome: "permission_denied",
        message:
          `A Conditional Access policy in tenant ${spn.tenantId} blocked the sign-in (${tag}). Ask a tenant administrator ` +
          "to exempt this service principal or allow this server's outbound IP addresses.",
      };
    default:
      break;
  }
  if (aadError === "invalid_tenant") {
    return aadFailure(spn, 90002, aadError, authorityHost, scope);
  }
  return {
    outcome: "auth_failed",
    message:
      `${ENTRA} refused to issue a token for this service principal (${tag}). Check tenant_id, client_id and that ` +
      "client_secret is the secret's current value.",
  };
}

function classifyTokenFailure(
  ctx: ConnectionTestContext,
  spn: AzureSpn,
  err: unknown,
  observations: Observation[],
  timedOut: boolean,
  authorityHost: string,
  scope: string,
): { check: CheckBody; aadCode: number | null } {
  const last = observations[observations.length - 1];
  if (timedOut) {
    return { check: classifyFetchError(entraCtx(ctx), last?.url ?? authorityHost, { name: "TimeoutError" }), aadCode: null };
  }
  if (last && last.error !== undefined) {
    return { check: classifyFetchError(entraCtx(ctx), last.url, last.error), aadCode: null };
  }
  if (last?.status !== undefined && last.status >= 400) {
    const status = last.status;
    if (status === 429) {
      const headers = new Headers();
      if (last.retryAfter) headers.set("retry-after", last.retryAfter);
      return { check: rateLimited(entraCtx(ctx), headers, last.aadCode ? `AADSTS${last.aadCode}` : null), aadCode: last.aadCode ?? null };
    }
    if (status >= 500) {
      return {
        check: {
          outcome: "provider_error",
          message: `${ENTRA} answered ${status}${last.aadCode ? ` (AADSTS${last.aadCode})` : ""}; this is on Microsoft's side, try again later.`,
        },
        aadCode: last.aadCode ?? null,
      };
    }
    if (last.aadCode || last.aadError) {
      return { check: aadFailure(spn, last.aadCode ?? null, last.aadError ?? null, authorityHost, scope), aadCode: last.aadCode ?? null };
    }
    if (last.kind === "discovery" && status === 404) {
      return {
        check: {
          outcome: "not_found",
          message:
            `${ENTRA} at ${originOf(authorityHost)} has no sign-in metadata for tenant ${spn.tenantId} (HTTP 404). ` +
            "Check tenant_id, and the configured authority host (AZURE_AUTHORITY_HOST).",
        },
        aadCode: null,
      };
    }
  }
  const fromMessage = aadCodeFromMessage(err);
  if (fromMessage !== null) return { check: aadFailure(spn, fromMessage, null, authorityHost, scope), aadCode: fromMessage };
  return {
    check: {
      outcome: "provider_error",
      message:
        `Could not get a token from ${ENTRA} at ${originOf(authorityHost)}${err instanceof Error && safeToken(err.name) ? ` (${err.name})` : ""}. ` +
        "Try again; if it persists, check the configured authority host (AZURE_AUTHORITY_HOST).",
    },
    aadCode: null,
  };
}

/**
 * Gets a token for `scope` with ClientSecretCredential, each request within ctx.timeoutMs. Never
 * throws; a failure is already classified.
 */
export async function acquireAzureToken(ctx: ConnectionTestContext, spn: AzureSpn, scope: string): Promise<TokenOutcome> {
  const authorityHost = (ctx.endpoints.authority_host || DEFAULT_AUTHORITY_HOST).replace(/\/+$/, "");
  const observations: Observation[] = [];
  const controller = new AbortController();
  let timedOut = false;

  const { value, duration_ms } = await timed(async (): Promise<{ token: string; expiresOnTimestamp: number | null } | { check: CheckBody; aadCode: number | null }> => {
    if (!TENANT_ID.test(spn.tenantId)) {
      return {
        check: {
          outcome: "not_found",
          message: "tenant_id is not a tenant: use the Directory (tenant) ID (a GUID) or a domain such as contoso.onmicrosoft.com.",
        },
        aadCode: null,
      };
    }
    let credential: ClientSecretCredential;
    try {
      credential = new ClientSecretCredential(spn.tenantId, spn.clientId, spn.clientSecret, {
        authorityHost,
        disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(authorityHost.toLowerCase()),
        // One attempt: a connection test reports what happened; the caller decides when to retry.
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [
          {
            policy: observerPolicy(controller.signal, ctx.timeoutMs, () => (timedOut = true), observations),
            position: "perCall",
          },
          { policy: pacingPolicy(ctx.pace), position: "perRetry" },
        ],
      });
    } catch {
      return {
        check: {
          outcome: "provider_error",
          message: `The ${ENTRA} client could not be set up for ${originOf(authorityHost)}: the authority host (AZURE_AUTHORITY_HOST) must be an https URL.`,
        },
        aadCode: null,
      };
    }

    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
        resolve("timeout");
      }, 2 * ctx.timeoutMs); // metadata + token, each bounded by the policy
    });
    try {
      const result = await Promise.race([credential.getToken(scope, { abortSignal: controller.signal }), deadline]);
      if (result === "timeout") return classifyTokenFailure(ctx, spn, null, observations, true, authorityHost, scope);
      if (!result?.token) return classifyTokenFailure(ctx, spn, null, observations, false, authorityHost, scope);
      return { token: result.token, expiresOnTimestamp: typeof result.expiresOnTimestamp === "number" ? result.expiresOnTimestamp : null };
    } catch (err) {
      return classifyTokenFailure(ctx, spn, err, observations, timedOut, authorityHost, scope);
    } finally {
      clearTimeout(timer);
      controller.abort(); // drops anything still in flight
    }
  });
  if ("token" in value) return { ok: true, token: value.token, expiresOnTimestamp: value.expiresOnTimestamp, duration_ms };
  return { ok: false, check: value.check, aadCode: value.aadCode, duration_ms };
}

/** The `tid` claim of a JWT access token (a GUID), or null. Only this claim is read. */
export function tenantClaim(token: string): string | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const tid = getPath(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown, "tid");
    return typeof tid === "string" && GUID.test(tid) ? tid.toLowerCase() : null;
  } catch {
    return null;
  }
}

export function spnFrom(ctx: ConnectionTestContext): { spn: AzureSpn | null; missing: string[] } {
  const tenantId = credentialString(ctx, "tenant_id");
  const clientId = credentialString(ctx, "client_id");
  const clientSecret = credentialString(ctx, "client_secret");
  const missing = [
    ...(tenantId ? [] : ["tenant_id"]),
    ...(clientId ? [] : ["client_id"]),
    ...(clientSecret ? [] : ["client_secret"]),
  ];
  if (!tenantId || !clientId || !clientSecret) return { spn: null, missing };
  return { spn: { tenantId, clientId, clientSecret }, missing };
}

export function missingFields(ctx: ConnectionTestContext, missing: string[], second: string): ConnectionTestResult {
  return combineChecks(
    [
      toCheck("authenticate", { outcome: "auth_failed", message: `The ${ctx.providerName} credential is missing ${missing.join(", ")}.` }, 0),
      skippedCheck(second, NOT_RUN),
    ],
    { key_kind: KEY_KIND },
  );
}

interface ArmError {
  code: string | null;
  /** Inspected, never shown. */
  text: string;
}

/** `{"error":{"code","message"}}`, the shape ARM and Azure OpenAI share. A bare status ("429") is not a code. */
export function armError(reply: HttpReply): ArmError {
  const err = getPath(reply.json, "error");
  const text = getPath(err, "message");
  const code = safeToken(getPath(err, "code"));
  return { code: code && !/^\d{3}$/.test(code) ? code : null, text: typeof text === "string" ? text : "" };
}
