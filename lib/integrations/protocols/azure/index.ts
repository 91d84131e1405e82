import "server-only";

import { AzureAuthorityHosts, ClientSecretCredential, type ClientSecretCredentialOptions } from "@azure/identity";

import { AppError } from "../../../errors";
import {
  classifyFetchError,
  classifyHttpStatus,
  combineChecks,
  credentialString,
  fetchWithTimeout,
  getPath,
  joinUrl,
  originOf,
  rateLimited,
  safeToken,
  skippedCheck,
  timed,
  toCheck,
  unexpectedBody,
  unexpectedStatus,
  type CheckBody,
  type HttpReply,
  NOT_RUN_AFTER_AUTH,
} from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * Microsoft Azure and Azure OpenAI (docs/providers.md, "Microsoft Azure" and "Azure OpenAI"), both with a service principal's client
 * secret.
 *
 * Tokens come from the official library: @azure/identity's ClientSecretCredential (MSAL underneath),
 * never a hand-made token request. It is pointed at `endpoints.authority_host` (AZURE_AUTHORITY_HOST)
 * and built per test, so nothing is cached between tests. Two things the library does not give us
 * directly are added through its public `additionalPolicies` pipeline hook (one per-call policy):
 * - deadlines: MSAL does not pass getToken's abort signal down to its client-credentials requests,
 *   so the policy gives every request the credential sends (OpenID metadata, then the token) its own
 *   ctx.timeoutMs — "per provider call", like every other test — and ties it to our AbortController;
 *   a race on getToken bounds the whole exchange at twice that;
 * - a diagnosis: MSAL folds AAD's answer into an error whose only detail is its message (and an
 *   unknown tenant or an unreachable host both become "endpoints_resolution_error"), so the policy
 *   records what actually came back — status, AAD `error` / `error_codes`, Retry-After, or the
 *   transport error — and the failure is classified from that (the message's AADSTS code is only
 *   the fallback). Response bodies are parsed for those fields only, never shown.
 *
 * Then one data-plane call with the token, through ctx.fetch like every other connection test:
 * - azure: `POST {management_base}/subscriptions/{id}/providers/Microsoft.CostManagement/query`
 *   (api-version 2023-11-01, ActualCost, MonthToDate, one Sum aggregation) — the exact permission the
 *   cost pipeline needs (Cost Management Reader);
 * - azure_openai: `GET {endpoint}/openai/v1/models` (no api-version on the v1 API).
 *
 * Messages say what to fix and never contain the client secret or a token; client_id, tenant_id and
 * subscription_id are identifiers (not secrets) and are quoted where they help.
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
const DEFAULT_MANAGEMENT_BASE = "https://management.azure.com";
const ENTRA = "Microsoft Entra ID";
const KEY_KIND = "client_secret";

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
const ARM_AUDIENCES = new Set(["https://management.azure.com", "https://management.chinacloudapi.cn", "https://management.usgovcloudapi.net"]);

/** The SDK's tenant rule (tenantIdUtils: `^[0-9a-zA-Z-.]+$`), minus empty labels such as "..". */
const TENANT_ID = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const GUID = /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;

const NOT_RUN = NOT_RUN_AFTER_AUTH;

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
function tenantClaim(token: string): string | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const tid = getPath(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown, "tid");
    return typeof tid === "string" && GUID.test(tid) ? tid.toLowerCase() : null;
  } catch {
    return null;
  }
}

function spnFrom(ctx: ConnectionTestContext): { spn: AzureSpn | null; missing: string[] } {
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

function missingFields(ctx: ConnectionTestContext, missing: string[], second: string): ConnectionTestResult {
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
function armError(reply: HttpReply): ArmError {
  const err = getPath(reply.json, "error");
  const text = getPath(err, "message");
  const code = safeToken(getPath(err, "code"));
  return { code: code && !/^\d{3}$/.test(code) ? code : null, text: typeof text === "string" ? text : "" };
}

// ---------------------------------------------------------------------------------------------
// azure: Cost Management query

/** The longest wait any Cost Management throttling header asks for (qpu, entity, tenant, clienttype). */
function costManagementRetryAfter(headers: Headers): number | undefined {
  let best: number | undefined;
  headers.forEach((value, name) => {
    if (!/^x-ms-ratelimit-microsoft\.costmanagement-[a-z]+-retry-after$/i.test(name)) return;
    const v = value.trim();
    if (!/^\d+(\.\d+)?$/.test(v)) return;
    const s = Math.ceil(Number(v));
    best = best === undefined ? s : Math.max(best, s);
  });
  return best;
}

/** The token scope for Azure Resource Manager at this management base (the connection test's and the pipeline's). */
export function armScopeFor(managementBase: string): string {
  const origin = originOf(managementBase).toLowerCase();
  return `${ARM_AUDIENCES.has(origin) ? origin : DEFAULT_MANAGEMENT_BASE}/.default`;
}

function costQueryCheck(ctx: ConnectionTestContext, reply: HttpReply, url: string, spn: AzureSpn, subscriptionId: string): CheckBody {
  const err = armError(reply);
  const { status } = reply;
  if (status === 200) {
    const columns = getPath(reply.json, "properties", "columns");
    const rows = getPath(reply.json, "properties", "rows");
    return Array.isArray(columns) && Array.isArray(rows) ? { outcome: "ok" } : unexpectedBody(ctx, url);
  }
  if (status === 401) {
    if (err.code === "InvalidAuthenticationTokenTenant") {
      return {
        outcome: "auth_failed",
        message:
          `Subscription ${subscriptionId} belongs to a different tenant than ${spn.tenantId} (InvalidAuthenticationTokenTenant). ` +
          "Set tenant_id to the subscription's tenant (az account show --subscription <id> --query tenantId) and use an app registered there.",
      };
    }
    return {
      outcome: "auth_failed",
      message:
        `Azure Resource Manager rejected the service principal's token (HTTP 401${err.code ? `, ${err.code}` : ""}). ` +
        "Check that tenant_id is the tenant of the subscription.",
    };
  }
  if (err.code === "MissingSubscriptionRegistration") {
    return {
      outcome: "permission_denied",
      message:
        `The Microsoft.CostManagement resource provider is not registered on subscription ${subscriptionId} (MissingSubscriptionRegistration). ` +
        "Register it (az provider register --namespace Microsoft.CostManagement --subscription <id>) and try again.",
    };
  }
  if (status === 403) {
    return {
      outcome: "permission_denied",
      message:
        `The service principal ${spn.clientId} may not query costs on subscription ${subscriptionId} (HTTP 403${err.code ? `, ${err.code}` : ""}). ` +
        `Assign it the "Cost Management Reader" role on the subscription (az role assignment create --assignee ${spn.clientId} ` +
        `--role "Cost Management Reader" --scope /subscriptions/${subscriptionId}); new role assignments can take a few minutes to apply.`,
    };
  }
  if (status === 404 && (err.code === "SubscriptionNotFound" || err.code === "InvalidSubscriptionId")) {
    return {
      outcome: "not_found",
      message:
        `Subscription ${subscriptionId} was not found (${err.code}). Check subscription_id (az account show --query id) and ` +
        `that the subscription is in tenant ${spn.tenantId}.`,
    };
  }
  if (status === 429) {
    // Cost Management's own QPU throttling headers name the wait; ARM's Retry-After is the fallback.
    const headers = new Headers(reply.headers);
    const cm = costManagementRetryAfter(reply.headers);
    if (cm !== undefined) headers.set("retry-after", String(cm));
    const body = rateLimited(ctx, headers, err.code);
    const when = body.retry_after_s !== undefined ? `in ${body.retry_after_s} s` : "in a minute";
    return {
      ...body,
      message:
        `Azure Cost Management is throttling queries (HTTP 429${err.code ? `, ${err.code}` : ""}). Try again ${when}. ` +
        "Cost Management allows only a few queries per minute per scope, shared with every other tool reading this subscription's costs.",
    };
  }
  return classifyHttpStatus(ctx, reply, err.code) ?? unexpectedStatus(ctx, reply, url, err.code);
}

export const testAzureServicePrincipal: ConnectionTest = async (ctx) => {
  const { spn, missing } = spnFrom(ctx);
  const subscriptionId = credentialString(ctx, "subscription_id");
  if (!spn || !subscriptionId) return missingFields(ctx, subscriptionId ? missing : [...missing, "subscription_id"], "read_costs");
  const secrets = [spn.clientSecret];
  const managementBase = ctx.endpoints.management_base || DEFAULT_MANAGEMENT_BASE;

  const token = await acquireAzureToken(ctx, spn, armScopeFor(managementBase));
  if (!token.ok) {
    return combineChecks([toCheck("authenticate", token.check, token.duration_ms), skippedCheck("read_costs", NOT_RUN)], {
      key_kind: KEY_KIND,
      secrets,
    });
  }
  secrets.push(token.token);
  const account = { id: tenantClaim(token.token) ?? spn.tenantId, name: `subscription ${subscriptionId}` };

  const url = joinUrl(
    managementBase,
    `/subscriptions/${encodeURIComponent(subscriptionId)}/providers/Microsoft.CostManagement/query?api-version=${AZURE_COST_QUERY_API_VERSION}`,
  );
  const { value: readCosts, duration_ms } = await timed(async (): Promise<CheckBody> => {
    const reply = await fetchWithTimeout(ctx, url, {
      method: "POST",
      headers: { Authorization: `Bearer ${token.token}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(AZURE_COST_QUERY_BODY),
    });
    if (reply.kind === "failure") return reply.check;
    return costQueryCheck(ctx, reply, url, spn, subscriptionId);
  });
  return combineChecks([toCheck("authenticate", { outcome: "ok" }, token.duration_ms), toCheck("read_costs", readCosts, duration_ms)], {
    account,
    key_kind: KEY_KIND,
    secrets,
  });
};

// ---------------------------------------------------------------------------------------------
// azure_openai: list models on the resource

function invalidEndpoint(ctx: ConnectionTestContext, why: string): AppError {
  return new AppError("invalid_format", `The ${ctx.providerName} endpoint ${why}; requests are only sent to Azure OpenAI resource hosts.`, {
    fields: { endpoint: `must be https://<resource>.openai.azure.com or https://<resource>.cognitiveservices.azure.com (${why})` },
  });
}

/**
 * The base URL for the resource: AZURE_OPENAI_ENDPOINT_OVERRIDE when set (the operator's choice, not
 * checked), else the credential's endpoint, which must be https on one of the resource host
 * patterns, with no credentials, port, query or fragment. Throws AppError("invalid_format") before
 * any request is made.
 */
export function azureOpenAIBase(ctx: ConnectionTestContext): { base: string; resourceHost: string | null } {
  const override = (ctx.endpoints.endpoint_override ?? "").trim();
  const raw = credentialString(ctx, "endpoint");
  let resourceHost: string | null = null;
  if (raw) {
    try {
      resourceHost = new URL(raw).hostname.toLowerCase();
    } catch {
      resourceHost = null;
    }
  }
  if (override) {
    let overrideHost: string | null = null;
    try {
      overrideHost = new URL(override).host;
    } catch {
      overrideHost = null;
    }
    return { base: override.replace(/\/+$/, ""), resourceHost: resourceHost ?? overrideHost };
  }

  if (!raw) throw invalidEndpoint(ctx, "is missing");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidEndpoint(ctx, "is not a valid URL");
  }
  if (url.protocol !== "https:") throw invalidEndpoint(ctx, "must use https");
  if (url.username || url.password || url.port || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
    throw invalidEndpoint(ctx, "must be the resource's base URL, with no path, port, query or user info");
  }
  if (!AZURE_OPENAI_HOST_PATTERN.test(url.hostname)) throw invalidEndpoint(ctx, "is not an Azure OpenAI resource host");
  return { base: `https://${url.hostname}`, resourceHost: url.hostname };
}

function aoaiModelsCheck(ctx: ConnectionTestContext, reply: HttpReply, url: string, spn: AzureSpn): CheckBody {
  const err = armError(reply);
  const { status } = reply;
  const code = err.code;
  if (status === 200) {
    return Array.isArray(getPath(reply.json, "data")) ? { outcome: "ok" } : unexpectedBody(ctx, url);
  }
  if (status === 401) {
    return {
      outcome: "auth_failed",
      message:
        `The Azure OpenAI resource at ${originOf(url)} rejected the service principal's token (HTTP 401${code ? `, ${code}` : ""}). ` +
        `Check that the endpoint is your resource's own endpoint and that the resource is in tenant ${spn.tenantId}.`,
    };
  }
  if (status === 403) {
    if (/virtual network|firewall|private endpoint|public (network )?access|ip address/i.test(err.text)) {
      return {
        outcome: "permission_denied",
        message:
          `The Azure OpenAI resource's network rules refused this server (HTTP 403${code ? `, ${code}` : ""}). ` +
          "Allow this server's outbound IP addresses under Networking on the resource, or enable public access.",
      };
    }
    return {
      outcome: "permission_denied",
      message:
        `The service principal ${spn.clientId} may not use the Azure OpenAI resource (HTTP 403${code ? `, ${code}` : ""}). ` +
        `Assign it the "Cognitive Services OpenAI User" role on the resource (az role assignment create --assignee ${spn.clientId} ` +
        '--role "Cognitive Services OpenAI User" --scope <resource id>); new role assignments can take a few minutes to apply.',
    };
  }
  if (status === 404) {
    return {
      outcome: "not_found",
      message:
        `${originOf(url)} answered 404 for /openai/v1/models: wrong endpoint or resource. Use the resource's endpoint ` +
        "(Keys and Endpoint in the Azure portal), https://<resource>.openai.azure.com or https://<resource>.cognitiveservices.azure.com, " +
        "of an Azure OpenAI or Azure AI Services resource.",
    };
  }
  return classifyHttpStatus(ctx, reply, code) ?? unexpectedStatus(ctx, reply, url, code);
}

/** What proving access to an Azure OpenAI resource yields: the token it proved, with its scope. */
export type AzureOpenAIAccess =
  | { ok: true; token: string; scope: string; expiresOnTimestamp: number | null; authMs: number; listModels: CheckBody; listMs: number; tokens: string[] }
  | { ok: false; check: CheckBody; authMs: number; tokens: string[] };

/**
 * The one way to get an Azure OpenAI token, for the connection test and the pipelines alike: ask
 * for the v1 scope (https://ai.azure.com/.default); fall back to the Cognitive Services scope when
 * the tenant has no resource principal for the v1 audience (AADSTS500011) or the resource refuses
 * the v1 token with 401; each candidate is proven on GET {endpoint}/openai/v1/models (a free call).
 * The scope returned is the one the resource accepted, so a pipeline never gets a token for a scope
 * the test did not prove (https://github.com/openai/openai-node/blob/master/docs/azure.md: v1 API → ai.azure.com, dated
 * api-version API → cognitiveservices.azure.com; both audiences are accepted by current resources).
 */
export async function azureOpenAIAccess(ctx: ConnectionTestContext, spn: AzureSpn, base: string): Promise<AzureOpenAIAccess> {
  const tokens: string[] = [];
  let scope = AZURE_OPENAI_SCOPE;
  let token = await acquireAzureToken(ctx, spn, scope);
  let authMs = token.duration_ms;
  if (!token.ok && token.aadCode === 500011) {
    // The tenant has no resource principal for https://ai.azure.com: fall back to the Cognitive Services audience.
    scope = AZURE_OPENAI_FALLBACK_SCOPE;
    token = await acquireAzureToken(ctx, spn, scope);
    authMs += token.duration_ms;
  }
  if (!token.ok) return { ok: false, check: token.check, authMs, tokens };
  tokens.push(token.token);

  const url = joinUrl(base, "/openai/v1/models");
  const listModels = async (bearer: string) => {
    const reply = await fetchWithTimeout(ctx, url, { headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" } });
    return reply.kind === "failure" ? reply.check : aoaiModelsCheck(ctx, reply, url, spn);
  };
  let proven: { token: string; expiresOnTimestamp: number | null } = token;
  const { value: listed, duration_ms } = await timed(async (): Promise<{ body: CheckBody; authMs: number }> => {
    const first = await listModels(token.token);
    if (first.outcome !== "auth_failed" || scope !== AZURE_OPENAI_SCOPE) return { body: first, authMs: 0 };
    // The resource refused the v1 audience: try once more with the Cognitive Services one.
    const retry = await acquireAzureToken(ctx, spn, AZURE_OPENAI_FALLBACK_SCOPE);
    if (!retry.ok) return { body: first, authMs: retry.duration_ms };
    tokens.push(retry.token);
    const second = await listModels(retry.token);
    if (second.outcome !== "auth_failed") {
      scope = AZURE_OPENAI_FALLBACK_SCOPE;
      proven = retry;
    }
    return { body: second, authMs: retry.duration_ms };
  });
  return {
    ok: true,
    token: proven.token,
    scope,
    expiresOnTimestamp: proven.expiresOnTimestamp,
    authMs: authMs + listed.authMs,
    listModels: listed.body,
    listMs: Math.max(0, duration_ms - listed.authMs),
    tokens,
  };
}

/** The service principal fields of a credential, or null when one is missing. */
export function azureSpnOf(credential: Record<string, unknown>): AzureSpn | null {
  const str = (k: string) => (typeof credential[k] === "string" ? (credential[k] as string).trim() : "");
  const spn = { tenantId: str("tenant_id"), clientId: str("client_id"), clientSecret: str("client_secret") };
  return spn.tenantId && spn.clientId && spn.clientSecret ? spn : null;
}

export const testAzureOpenAI: ConnectionTest = async (ctx) => {
  // The endpoint is checked before anything else: a refused host gets no request, not even the token one.
  const { base, resourceHost } = azureOpenAIBase(ctx);
  const { spn, missing } = spnFrom(ctx);
  if (!spn) return missingFields(ctx, missing, "list_models");
  const secrets: string[] = [spn.clientSecret];

  const access = await azureOpenAIAccess(ctx, spn, base);
  secrets.push(...access.tokens);
  if (!access.ok) {
    return combineChecks([toCheck("authenticate", access.check, access.authMs), skippedCheck("list_models", NOT_RUN)], { key_kind: KEY_KIND, secrets });
  }
  const account: ConnectionTestResult["account"] = { id: tenantClaim(access.token) ?? spn.tenantId, name: resourceHost };
  const checks: CheckResult[] = [
    toCheck("authenticate", { outcome: "ok" }, access.authMs),
    toCheck("list_models", access.listModels, access.listMs),
  ];
  return combineChecks(checks, { account, key_kind: KEY_KIND, secrets });
};

/** For pipelines: a token for ARM at the configured management base, the scope the connection test proved. */
export const authenticateAzure: PipelineAuthenticator = async (ctx) => {
  const spn = azureSpnOf(ctx.credential);
  if (!spn) throw new Error("incomplete service principal");
  const token = await acquireAzureToken(ctx, spn, armScopeFor(ctx.endpoints.management_base || DEFAULT_MANAGEMENT_BASE));
  if (!token.ok) throw new Error("Microsoft Entra ID refused the token request");
  const subscriptionId = credentialString(ctx, "subscription_id");
  return {
    kind: "azure_access_token",
    provider: ctx.provider,
    access_token: token.token,
    scope: armScopeFor(ctx.endpoints.management_base || DEFAULT_MANAGEMENT_BASE),
    ...(subscriptionId ? { subscription_id: subscriptionId } : {}),
    expires_at: new Date(token.expiresOnTimestamp ?? ctx.now() + 3_300_000).toISOString(),
  };
};

/**
 * For pipelines: the same token logic as the connection test (v1 scope, Cognitive Services
 * fallback, proven on /openai/v1/models), so a pipeline gets a token for the scope the resource accepted.
 */
export const authenticateAzureOpenAI: PipelineAuthenticator = async (ctx) => {
  const spn = azureSpnOf(ctx.credential);
  if (!spn) throw new Error("incomplete service principal");
  const { base } = azureOpenAIBase(ctx);
  const access = await azureOpenAIAccess(ctx, spn, base);
  if (!access.ok || access.listModels.outcome !== "ok") throw new Error("Azure OpenAI refused the token");
  return {
    kind: "azure_access_token",
    provider: ctx.provider,
    access_token: access.token,
    scope: access.scope,
    endpoint: base,
    expires_at: new Date(access.expiresOnTimestamp ?? ctx.now() + 3_300_000).toISOString(),
  };
};

export const azureSetupInfo: SetupInfoBuilder = async (provider) => {
  const role = provider.roles?.[0] ?? "Cost Management Reader";
  return {
    steps: [
      `Create a service principal with the ${role} role on the subscription.`,
      "Paste the JSON the command prints (appId, password, tenant) and add the subscription ID.",
    ],
    commands: [`az ad sp create-for-rbac --name finops-cost-reader --role "${role}" --scopes /subscriptions/SUBSCRIPTION_ID`],
  };
};

export const azureOpenAISetupInfo: SetupInfoBuilder = async (provider) => {
  const [dataRole = "Cognitive Services OpenAI User", costRole = "Cost Management Reader"] = provider.roles ?? [];
  return {
    steps: [
      `Create a service principal and give it the ${dataRole} role on the Azure OpenAI resource.`,
      `Give it ${costRole} on the subscription or resource group that holds the resource, so spend can be read.`,
    ],
    commands: [
      "az ad sp create-for-rbac --name finops-openai-reader",
      `az role assignment create --assignee APP_ID --role "${dataRole}" --scope /subscriptions/SUBSCRIPTION_ID/resourceGroups/RESOURCE_GROUP/providers/Microsoft.CognitiveServices/accounts/RESOURCE_NAME`,
      `az role assignment create --assignee APP_ID --role "${costRole}" --scope /subscriptions/SUBSCRIPTION_ID`,
    ],
  };
};
