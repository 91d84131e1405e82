import "server-only";

import { apiKeyAccess, classifyHttpStatus, combineChecks, credentialString, fetchWithTimeout, isRecord, joinUrl, parseGoogleApiError, rateLimited, skippedCheck, timedCheck, toCheck, unexpectedBody, unexpectedStatus, type CheckBody, type GoogleApiError, type HttpReply } from "../http";
import type { ConnectionTest, ConnectionTestContext, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * Gemini API keys (docs/providers.md, "Google Gemini API"). One call, `GET /v1beta/models?pageSize=1`, with the key in the
 * `x-goog-api-key` header (never `?key=`, so the key never sits in a URL that could be logged).
 * Errors are classified by `error.details[].reason` first (a bad key is HTTP 400, not 401), then by
 * `error.status`, then by HTTP status. Gemini keys have no cost API: read_costs is always skipped.
 */

const DEFAULT_API_BASE = "https://generativelanguage.googleapis.com";

export const GEMINI_NO_COST_API_MESSAGE =
  "Gemini API keys have no cost API; spend appears in the Google Cloud project's billing export (connect GCP to read it).";

export function geminiKeyKind(key: string): string {
  if (key.startsWith("AQ.")) return "auth";
  if (key.startsWith("AIza")) return "standard";
  return "unknown";
}

const APP_RESTRICTIONS = new Set([
  "API_KEY_IP_ADDRESS_BLOCKED",
  "API_KEY_HTTP_REFERRER_BLOCKED",
  "API_KEY_ANDROID_APP_BLOCKED",
  "API_KEY_IOS_APP_BLOCKED",
]);

function byReason(ctx: ConnectionTestContext, reply: HttpReply, e: GoogleApiError): CheckBody | null {
  for (const reason of e.reasons) {
    switch (reason) {
      case "API_KEY_INVALID":
        return {
          outcome: "auth_failed",
          message:
            "Google rejected the API key (API_KEY_INVALID). Check that you pasted the whole key from Google AI Studio " +
            "and that it has not been deleted.",
        };
      case "API_KEY_EXPIRED":
        return {
          outcome: "expired",
          message: "Google says the API key has expired (API_KEY_EXPIRED). Create a new key in Google AI Studio and replace this one.",
        };
      case "ACCESS_TOKEN_TYPE_UNSUPPORTED":
        return {
          outcome: "auth_failed",
          message:
            "Google did not accept this key for the Gemini API (ACCESS_TOKEN_TYPE_UNSUPPORTED). Auth keys (AQ.…) need the " +
            "Generative Language API enabled on the Google Cloud project the key is bound to: enable it there, or create " +
            "the key again in Google AI Studio.",
        };
      case "SERVICE_DISABLED":
        return {
          outcome: "permission_denied",
          message:
            "The Generative Language API is not enabled on the key's Google Cloud project (SERVICE_DISABLED). " +
            "Enable the Generative Language API in the Cloud Console (APIs & Services), wait a few minutes, and try again.",
        };
      case "API_KEY_SERVICE_BLOCKED":
        return {
          outcome: "permission_denied",
          message:
            "The key's API restrictions do not allow the Generative Language API (API_KEY_SERVICE_BLOCKED). " +
            "Add it to the key's allowed APIs in the Cloud Console, or use a key created in Google AI Studio.",
        };
      case "CONSUMER_SUSPENDED":
      case "BILLING_DISABLED":
        return {
          outcome: "permission_denied",
          message: `Google refused the key's Google Cloud project (${reason}). Check the project's status and billing in the Cloud Console.`,
        };
      case "RATE_LIMIT_EXCEEDED":
        return rateLimited(ctx, reply.headers, reason, e.retryDelay);
      default:
        if (APP_RESTRICTIONS.has(reason)) {
          return {
            outcome: "permission_denied",
            message:
              `The key's application restrictions block requests from this server (${reason}). ` +
              "Allow this server in the key's restrictions in the Cloud Console, or use a key without application restrictions.",
          };
        }
    }
  }
  return null;
}

function byStatus(ctx: ConnectionTestContext, reply: HttpReply, e: GoogleApiError): CheckBody | null {
  switch (e.status) {
    case "RESOURCE_EXHAUSTED":
      return rateLimited(ctx, reply.headers, e.status, e.retryDelay);
    case "UNAUTHENTICATED":
      return {
        outcome: "auth_failed",
        message: "Google did not accept the API key (UNAUTHENTICATED). Check the key in Google AI Studio, or create a new one.",
      };
    case "PERMISSION_DENIED":
      return {
        outcome: "permission_denied",
        message:
          "Google refused the request (PERMISSION_DENIED). Enable the Generative Language API on the key's Google Cloud " +
          "project and check that the key's API restrictions allow it.",
      };
    case "FAILED_PRECONDITION":
      return {
        outcome: "permission_denied",
        message:
          "Google refused the request (FAILED_PRECONDITION); the Gemini API may not be available from this server's " +
          "location, or the project needs billing enabled.",
      };
    default:
      return null;
  }
}

export const testGemini: ConnectionTest = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key");
  const noCosts = skippedCheck("read_costs", GEMINI_NO_COST_API_MESSAGE);
  if (!apiKey) {
    return combineChecks(
      [toCheck("authenticate", { outcome: "auth_failed", message: "No Gemini API key was given." }, 0), noCosts],
      { key_kind: null },
    );
  }
  const keyKind = geminiKeyKind(apiKey);
  const base = ctx.endpoints.api_base ?? DEFAULT_API_BASE;

  const authenticate = await timedCheck("authenticate", async () => {
    const url = joinUrl(base, "/v1beta/models?pageSize=1");
    const reply = await fetchWithTimeout(ctx, url, {
      headers: geminiHeaders(apiKey),
    });
    if (reply.kind === "failure") return reply.check;
    if (reply.status === 200) return isRecord(reply.json) ? { outcome: "ok" } : unexpectedBody(ctx, url);
    const e = parseGoogleApiError(reply.json);
    const found = byReason(ctx, reply, e) ?? byStatus(ctx, reply, e) ?? classifyHttpStatus(ctx, reply, e.status, e.retryDelay);
    if (found) return found;
    if (reply.status === 401) return byStatus(ctx, reply, { ...e, status: "UNAUTHENTICATED" }) as CheckBody;
    if (reply.status === 403) return byStatus(ctx, reply, { ...e, status: "PERMISSION_DENIED" }) as CheckBody;
    return unexpectedStatus(ctx, reply, url, e.status);
  });

  return combineChecks([authenticate, noCosts], { account: null, key_kind: keyKind, secrets: [apiKey] });
};

/** The key goes in the x-goog-api-key header, never in the URL (?key=) where it could be logged. */
function geminiHeaders(apiKey: string): Record<string, string> {
  return { "x-goog-api-key": apiKey, Accept: "application/json" };
}

/** For pipelines: the key with the header and base URL the connection test used. */
export const authenticateGemini: PipelineAuthenticator = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key") ?? "";
  return apiKeyAccess(ctx, apiKey, geminiHeaders(apiKey), ctx.endpoints.api_base ?? DEFAULT_API_BASE);
};

export const geminiSetupInfo: SetupInfoBuilder = async () => ({
  steps: [
    "Create an API key in Google AI Studio (new keys are auth keys, AQ.…).",
    "Gemini has no cost API: its spend appears in the Google Cloud project's billing export. Connect GCP too to read it.",
  ],
});
