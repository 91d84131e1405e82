import "server-only";

import { AppError } from "../../../errors";
import { classifyHttpStatus, combineChecks, credentialString, fetchWithTimeout, getPath, joinUrl, originOf, skippedCheck, timed, toCheck, unexpectedBody, unexpectedStatus, type CheckBody, type HttpReply } from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult } from "../types";

import { AZURE_OPENAI_FALLBACK_SCOPE, AZURE_OPENAI_HOST_PATTERN, AZURE_OPENAI_SCOPE, type AzureSpn, KEY_KIND, NOT_RUN, acquireAzureToken, armError, missingFields, spnFrom, tenantClaim } from "./token";

/** azure_openai: the token whose scope the resource accepts, proven on GET /openai/v1/models. */

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
  // A valid token whose principal lacks the data action (no "Cognitive Services OpenAI User") is
  // answered HTTP 401 with code PermissionDenied, not 403: "HTTP 401 (PermissionDenied) Principal
  // does not have access to API/Operation." on <resource>.openai.azure.com (microsoft/semantic-kernel#10020),
  // "Status: 401 (PermissionDenied) … lacks the required data action …" (davrous/AzureAgentToM365#3,
  // microsoft-foundry/foundry-samples#155). The token was accepted, so it is the role that is missing;
  // a 403 PermissionDenied is read the same way.
  const roleMissing = code === "PermissionDenied" && (status === 401 || status === 403);
  if (status === 401 && !roleMissing) {
    return {
      outcome: "auth_failed",
      message:
        `The Azure OpenAI resource at ${originOf(url)} rejected the service principal's token (HTTP 401${code ? `, ${code}` : ""}). ` +
        `Check that the endpoint is your resource's own endpoint and that the resource is in tenant ${spn.tenantId}.`,
    };
  }
  if (status === 403 || roleMissing) {
    if (/virtual network|firewall|private endpoint|public (network )?access|ip address/i.test(err.text)) {
      return {
        outcome: "permission_denied",
        message:
          `The Azure OpenAI resource's network rules refused this server (HTTP ${status}${code ? `, ${code}` : ""}). ` +
          "Allow this server's outbound IP addresses under Networking on the resource, or enable public access.",
      };
    }
    return {
      outcome: "permission_denied",
      message:
        `The service principal ${spn.clientId} may not use the Azure OpenAI resource (HTTP ${status}${code ? `, ${code}` : ""}). ` +
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
