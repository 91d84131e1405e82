import "server-only";

import { apiKeyAccess, classifyHttpStatus, combineChecks, credentialString, fetchWithTimeout, getPath, joinUrl, safeToken, skippedCheck, timedCheck, toCheck, unexpectedBody, unexpectedStatus, type CheckBody, type HttpReply, NOT_RUN_AFTER_AUTH } from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * Anthropic (docs/providers.md, "Anthropic"). An Admin key (sk-ant-admin01-…) authenticates on
 * /v1/organizations/me (which also names the organization) and reads costs on
 * /v1/organizations/cost_report. Any other key authenticates on /v1/models; the organization
 * endpoints then refuse it (workspace keys cannot use the Admin API) → permission_denied.
 */

const DEFAULT_API_BASE = "https://api.anthropic.com";
export const ANTHROPIC_VERSION = "2023-06-01";

export const ANTHROPIC_ADMIN_KEY_HINT =
  "An Anthropic Admin key (sk-ant-admin01-…) is needed to read usage and costs; workspace keys cannot. " +
  "An organization admin creates one in the Claude Console under Settings → Admin keys.";

const NOT_RUN = NOT_RUN_AFTER_AUTH;

export function anthropicKeyKind(key: string): string {
  if (key.startsWith("sk-ant-admin01-")) return "admin";
  if (key.startsWith("sk-ant-api03-")) return "api";
  return "unknown";
}

/** The `error.type` of an Anthropic error body, if it is a safe token. */
function errorType(reply: HttpReply): string | null {
  return safeToken(getPath(reply.json, "error", "type"));
}

/** Failures common to every Anthropic endpoint; null for 403 and statuses the caller decides. */
function commonFailure(ctx: ConnectionTestContext, reply: HttpReply, url: string): CheckBody | null {
  const type = errorType(reply);
  if (reply.status === 401 || type === "authentication_error") {
    return {
      outcome: "auth_failed",
      message:
        `Anthropic rejected the key (${type ?? "HTTP 401"}). ` +
        "Check that you pasted the whole key and that it has not been disabled or deleted in the Claude Console.",
    };
  }
  if (reply.status === 402 || type === "billing_error") {
    return {
      outcome: "permission_denied",
      message: `Anthropic reports a billing problem for this organization (${type ?? "HTTP 402"}). Check the plan and payment details in the Claude Console.`,
    };
  }
  if (reply.status === 403) return null;
  return classifyHttpStatus(ctx, reply, type) ?? unexpectedStatus(ctx, reply, url, type);
}

function headersFor(apiKey: string): Record<string, string> {
  return { "x-api-key": apiKey, "anthropic-version": ANTHROPIC_VERSION, Accept: "application/json" };
}

function costReportUrl(ctx: ConnectionTestContext, base: string): string {
  const day = new Date(ctx.now() - 86_400_000).toISOString().slice(0, 10);
  const query = new URLSearchParams({ starting_at: `${day}T00:00:00Z`, limit: "1" });
  return joinUrl(base, `/v1/organizations/cost_report?${query.toString()}`);
}

type Account = ConnectionTestResult["account"];

function accountFrom(json: unknown): Account | undefined {
  const id = getPath(json, "id");
  if (typeof id !== "string" || id === "") return undefined;
  const name = getPath(json, "name");
  return { id, name: typeof name === "string" ? name : null };
}

export const testAnthropic: ConnectionTest = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key");
  if (!apiKey) {
    return combineChecks(
      [toCheck("authenticate", { outcome: "auth_failed", message: "No Anthropic API key was given." }, 0)],
      { key_kind: null },
    );
  }
  const keyKind = anthropicKeyKind(apiKey);
  const base = ctx.endpoints.api_base ?? DEFAULT_API_BASE;
  const headers = headersFor(apiKey);
  let account: Account = null;

  /** GET /v1/organizations/me; `denied` is what a 403 (or, for non-admin keys, a 401) means. */
  const readOrganization = async (denied: CheckBody, nonAdmin: boolean): Promise<CheckBody> => {
    const url = joinUrl(base, "/v1/organizations/me");
    const reply = await fetchWithTimeout(ctx, url, { headers });
    if (reply.kind === "failure") return reply.check;
    if (reply.status === 200) {
      const found = accountFrom(reply.json);
      if (!found) return unexpectedBody(ctx, url);
      account = found;
      return { outcome: "ok" };
    }
    if (reply.status === 403 || (nonAdmin && reply.status === 401)) return denied;
    return commonFailure(ctx, reply, url) ?? denied;
  };

  const readCostReport = async (denied: CheckBody, nonAdmin: boolean): Promise<CheckBody> => {
    const url = costReportUrl(ctx, base);
    const reply = await fetchWithTimeout(ctx, url, { headers });
    if (reply.kind === "failure") return reply.check;
    if (reply.status === 200) {
      return Array.isArray(getPath(reply.json, "data")) ? { outcome: "ok" } : unexpectedBody(ctx, url);
    }
    if (reply.status === 403 || (nonAdmin && reply.status === 401)) return denied;
    return commonFailure(ctx, reply, url) ?? denied;
  };

  const checks: CheckResult[] = [];
  if (keyKind === "admin") {
    const authenticate = await timedCheck("authenticate", () =>
      readOrganization(
        {
          outcome: "permission_denied",
          message:
            "Anthropic accepted the admin key but refused access to the organization (permission_error). " +
            "Check that the key has not been restricted and that the organization has Admin API access.",
        },
        false,
      ),
    );
    checks.push(authenticate);
    if (authenticate.outcome === "ok") {
      checks.push(
        await timedCheck("read_costs", () =>
          readCostReport(
            {
              outcome: "permission_denied",
              message:
                "Anthropic refused this admin key access to the cost report (permission_error). " +
                "Check the key's permissions in the Claude Console; individual accounts have no Admin API.",
            },
            false,
          ),
        ),
      );
    } else {
      checks.push(skippedCheck("read_costs", NOT_RUN));
    }
  } else {
    const authenticate = await timedCheck("authenticate", async () => {
      const url = joinUrl(base, "/v1/models");
      const reply = await fetchWithTimeout(ctx, url, { headers });
      if (reply.kind === "failure") return reply.check;
      if (reply.status === 200) {
        return Array.isArray(getPath(reply.json, "data")) ? { outcome: "ok" } : unexpectedBody(ctx, url);
      }
      return (
        commonFailure(ctx, reply, url) ?? {
          outcome: "permission_denied",
          message: `Anthropic accepted the key but refused to list models (${errorType(reply) ?? "HTTP 403"}). Check the key's workspace permissions in the Claude Console.`,
        }
      );
    });
    checks.push(authenticate);
    if (authenticate.outcome === "ok") {
      // Personal or service-account keys not scoped to a workspace may use the Admin API
      // (docs/providers.md, "Anthropic"), so try it rather than refusing by prefix.
      const denied: CheckBody = { outcome: "permission_denied", message: ANTHROPIC_ADMIN_KEY_HINT };
      checks.push(
        await timedCheck("read_costs", async () => {
          const org = await readOrganization(denied, true);
          if (org.outcome !== "ok") return org;
          return readCostReport(denied, true);
        }),
      );
    } else {
      checks.push(skippedCheck("read_costs", NOT_RUN));
    }
  }
  return combineChecks(checks, { account, key_kind: keyKind, secrets: [apiKey] });
};

/** For pipelines: the key with the headers (x-api-key, anthropic-version) and base URL the connection test used. */
export const authenticateAnthropic: PipelineAuthenticator = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key") ?? "";
  return apiKeyAccess(ctx, apiKey, headersFor(apiKey), ctx.endpoints.api_base ?? DEFAULT_API_BASE);
};

export const anthropicSetupInfo: SetupInfoBuilder = async () => ({
  steps: ["An organization admin creates an Admin key (sk-ant-admin01-…) in the Claude Console → Settings → Admin keys. Workspace keys cannot read costs."],
});
