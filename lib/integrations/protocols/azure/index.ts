import "server-only";

import { credentialString } from "../http";
import type { PipelineAuthenticator, SetupInfoBuilder } from "../types";

import { DEFAULT_MANAGEMENT_BASE, acquireAzureToken } from "./token";
import { armScopeFor } from "./cost-management";
import { azureOpenAIAccess, azureOpenAIBase, azureSpnOf } from "./openai";
export { AZURE_COST_QUERY_API_VERSION, AZURE_COST_QUERY_BODY, AZURE_OPENAI_FALLBACK_SCOPE, AZURE_OPENAI_HOST_PATTERN, AZURE_OPENAI_SCOPE, MICROSOFT_AUTHORITY_HOSTS, acquireAzureToken } from "./token";
export { armScopeFor, testAzureServicePrincipal } from "./cost-management";
export { type AzureOpenAIAccess, azureOpenAIAccess, azureOpenAIBase, azureSpnOf, testAzureOpenAI } from "./openai";

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
 *
 * Files: token.ts (constants, the Entra ID token and its failures, shared helpers),
 * cost-management.ts (azure), openai.ts (azure_openai); this file binds them to the pipelines'
 * authenticate() and the setup help.
 */

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
