import "server-only";

import { apiKeyAccess, classifyHttpStatus, combineChecks, credentialString, fetchWithTimeout, getPath, joinUrl, safeToken, skippedCheck, timed, timedCheck, toCheck, unexpectedBody, unexpectedStatus, type CheckBody, type HttpReply, NOT_RUN_AFTER_AUTH, definitionOf } from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * OpenAI (docs/providers.md, "OpenAI"). An Admin key (sk-admin-…) is tested with one call to the organization
 * costs endpoint, which proves both that it authenticates and that it can read costs (admin keys
 * cannot call /v1/models). Any other key is tested on /v1/models, then on the costs endpoint, which
 * it cannot read: the result is permission_denied with a hint to use an Admin key.
 */

const DEFAULT_API_BASE = "https://api.openai.com";

export const OPENAI_ADMIN_KEY_HINT =
  "Reading costs needs an OpenAI Admin key (sk-admin-…), created by an organization Owner at " +
  "platform.openai.com/settings/organization/admin-keys. Project, service-account and user keys cannot read organization costs.";

const NOT_RUN = NOT_RUN_AFTER_AUTH;

export function openAIKeyKind(key: string): string {
  if (key.startsWith("sk-admin-")) return "admin";
  if (key.startsWith("sk-proj-")) return "project";
  if (key.startsWith("sk-svcacct-") || key.startsWith("sk-service-")) return "service_account";
  if (key.startsWith("sk-")) return "user";
  return "unknown";
}

interface OpenAIError {
  code: string | null;
  type: string | null;
  /** Inspected, never shown. */
  text: string;
}

function openAIError(reply: HttpReply): OpenAIError {
  const err = getPath(reply.json, "error");
  const text = getPath(err, "message");
  return {
    code: safeToken(getPath(err, "code")),
    type: safeToken(getPath(err, "type")),
    text: typeof text === "string" ? text : "",
  };
}

const REGION_CODE = "unsupported_country_region_territory";

/**
 * A key that authenticated but lacks a permission. OpenAI answers HTTP 401 with
 * `type: invalid_request_error` and the message "You have insufficient permissions for this
 * operation. Missing scopes: api.usage.read. …"; bodies seen in the wild carry `"code": null`
 * (continuedev/continue#10059, microsoft/PowerToys#32989, openai/codex#31506) and some client
 * fixtures `"code": "missing_scope"`. Both are recognized, by the code or the "Missing scopes"
 * message; a 403 with that message (seen for project keys on admin endpoints) is read the same way.
 * Returns the scope names (only scope-shaped tokens, e.g. api.usage.read), or null when it is not
 * a scope error.
 */
export function missingScopes(err: { code: string | null; text: string }): string[] | null {
  const m = /Missing scopes?:\s*([^\n]*)/i.exec(err.text);
  if (!m && err.code !== "missing_scope") return null;
  const scopes = (m?.[1] ?? "")
    .split(/[\s,]+/)
    .map((t) => t.replace(/[.;]+$/, ""))
    .filter((t) => /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(t));
  return [...new Set(scopes)];
}

function scopeDenied(ctx: ConnectionTestContext, scopes: string[], status: number): CheckBody {
  // OpenAI names the missing scopes; when it does not, the registry's cost permissions are what is needed.
  const named = scopes.length > 0 ? scopes.join(", ") : definitionOf(ctx).cost_permissions.join(", ");
  return {
    outcome: "permission_denied",
    message:
      `This key lacks the permission ${named} (HTTP ${status}, missing scope). Give the admin key read access to Usage (${named}) at ` +
      "platform.openai.com/settings/organization/admin-keys, or create a new admin key with that permission.",
  };
}

function regionRefused(err: OpenAIError): CheckBody {
  return {
    outcome: "permission_denied",
    message: `OpenAI does not serve requests from this server's country or region (${err.code ?? REGION_CODE}).`,
  };
}

/**
 * A 401 from any endpoint. Two 401s refuse a VALID key, per OpenAI's error-code guide
 * (https://developers.openai.com/api/docs/guides/error-codes):
 * - `ip_not_authorized`: the organization or project has an IP allowlist that does not hold this
 *   server's address; OpenAI "rejects requests from other IP addresses even if they include a valid
 *   API key" (https://developers.openai.com/api/docs/guides/ip-allowlist: "HTTP 401 with the
 *   ip_not_authorized error code"). A network rule to change, never a wrong key: permission_denied;
 * - `no_organization` ("You must be a member of an organization to use the API", observed in
 *   abi/screenshot-to-code#9): the key cannot be used, but organization_id is not the cause.
 */
function unauthorized(err: OpenAIError): CheckBody {
  if (err.code === "ip_not_authorized") {
    return {
      outcome: "permission_denied",
      message:
        "OpenAI refused requests from this server's IP address (ip_not_authorized): the key's organization or project has an IP allowlist. " +
        "Add this server's outbound IP address under Settings → Security → IP allowlist at platform.openai.com (changes can take up to 15 minutes), then try again.",
    };
  }
  if (err.code === "no_organization") {
    return {
      outcome: "auth_failed",
      message:
        "OpenAI refused the key because its account is not a member of any organization (no_organization). " +
        "Use a key created inside your organization (an Admin key from an organization Owner).",
    };
  }
  if (err.code === "invalid_api_key") {
    return {
      outcome: "auth_failed",
      message:
        "OpenAI rejected the key (invalid_api_key). Check that you pasted the whole key and that it has not been deleted.",
    };
  }
  if (err.code && /organization/i.test(err.code)) {
    return {
      outcome: "auth_failed",
      message:
        `OpenAI rejected the organization ID for this key (${err.code}). ` +
        "Check that organization_id is the key's own organization (org-…), or leave it empty.",
    };
  }
  return {
    outcome: "auth_failed",
    message:
      `OpenAI rejected the key (HTTP 401${err.code ? `, ${err.code}` : ""}). ` +
      "Check that you pasted the whole key and that it has not been deleted or revoked.",
  };
}

/**
 * 429 is a rate limit, except "You exceeded your current quota, please check your plan and billing
 * details" (`type: "insufficient_quota"`, `code` "insufficient_quota" or null): out of credit or at
 * the monthly spend limit, which no retry fixes (https://developers.openai.com/api/docs/guides/error-codes;
 * bodies observed in ChatGPTNextWeb/NextChat#3123 and #1792).
 */
function otherStatus(ctx: ConnectionTestContext, reply: HttpReply, url: string, err: OpenAIError): CheckBody {
  if (reply.status === 429 && (err.type === "insufficient_quota" || err.code === "insufficient_quota")) {
    return {
      outcome: "permission_denied",
      message:
        "OpenAI refused the request because the organization is out of credit or at its monthly spend limit (HTTP 429, insufficient_quota). " +
        "Add credits or raise the limit under Settings → Billing at platform.openai.com, then try again.",
    };
  }
  return classifyHttpStatus(ctx, reply, err.code ?? err.type) ?? unexpectedStatus(ctx, reply, url, err.code);
}

function isCostsPage(json: unknown): boolean {
  return Array.isArray(getPath(json, "data"));
}

/** The costs endpoint does not name the organization; a result row might, else the given id. */
function accountFrom(costs: unknown, organizationId: string | null): ConnectionTestResult["account"] {
  const buckets = getPath(costs, "data");
  if (Array.isArray(buckets)) {
    for (const bucket of buckets) {
      const results = getPath(bucket, "results");
      if (!Array.isArray(results)) continue;
      for (const row of results) {
        const id = safeToken(getPath(row, "organization_id"));
        if (id) return { id, name: null };
      }
    }
  }
  return organizationId ? { id: organizationId, name: null } : null;
}

function headersFor(apiKey: string, organizationId: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${apiKey}`,
    Accept: "application/json",
  };
  if (organizationId) headers["OpenAI-Organization"] = organizationId;
  return headers;
}

function costsUrl(ctx: ConnectionTestContext, base: string): string {
  const startTime = Math.floor(ctx.now() / 1000) - 86_400;
  return joinUrl(base, `/v1/organization/costs?start_time=${startTime}&limit=1`);
}

/** The test of one kind of key: its checks and, when known, the account. */
type KeyTest = (
  ctx: ConnectionTestContext,
  base: string,
  headers: Record<string, string>,
  organizationId: string | null,
) => Promise<{ checks: CheckResult[]; account: ConnectionTestResult["account"] }>;

const testAdminKey: KeyTest = async (ctx, base, headers, organizationId) => {
  const url = costsUrl(ctx, base);
  const { value: reply, duration_ms } = await timed(() => fetchWithTimeout(ctx, url, { headers }));

  const authFailed = (body: CheckBody) => ({
    checks: [toCheck("authenticate", body, duration_ms), skippedCheck("read_costs", NOT_RUN)],
    account: null,
  });

  if (reply.kind === "failure") return authFailed(reply.check);
  const err = openAIError(reply);

  if (reply.status === 200) {
    if (!isCostsPage(reply.json)) return authFailed(unexpectedBody(ctx, url));
    return {
      checks: [toCheck("authenticate", { outcome: "ok" }, duration_ms), toCheck("read_costs", { outcome: "ok" }, 0)],
      account: accountFrom(reply.json, organizationId),
    };
  }
  const scopes = reply.status === 401 || reply.status === 403 ? missingScopes(err) : null;
  if (reply.status === 401 && !scopes) return authFailed(unauthorized(err));
  if (reply.status === 401 || reply.status === 403) {
    if (err.code === REGION_CODE) return authFailed(regionRefused(err));
    // The key was recognized; it lacks the permission to read costs.
    const body: CheckBody = scopes
      ? scopeDenied(ctx, scopes, reply.status)
      : {
          outcome: "permission_denied",
          message:
            `OpenAI refused this admin key access to the organization costs (HTTP 403${err.code ? `, ${err.code}` : ""}). ` +
            "Check that the key belongs to an organization Owner and has read access to Usage.",
        };
    return {
      checks: [toCheck("authenticate", { outcome: "ok" }, duration_ms), toCheck("read_costs", body, 0)],
      account: organizationId ? { id: organizationId, name: null } : null,
    };
  }
  return authFailed(otherStatus(ctx, reply, url, err));
};

const testOtherKey: KeyTest = async (ctx, base, headers, organizationId) => {
  const authenticate = await timedCheck("authenticate", async () => {
    const url = joinUrl(base, "/v1/models");
    const reply = await fetchWithTimeout(ctx, url, { headers });
    if (reply.kind === "failure") return reply.check;
    const err = openAIError(reply);
    if (reply.status === 200) {
      return Array.isArray(getPath(reply.json, "data")) ? { outcome: "ok" } : unexpectedBody(ctx, url);
    }
    if (reply.status === 401 && !missingScopes(err)) return unauthorized(err);
    if (reply.status === 401 || reply.status === 403) {
      if (err.code === REGION_CODE) return regionRefused(err);
      // A restricted key without the models permission (401/403 "Missing scopes") still authenticated.
      return { outcome: "ok" };
    }
    return otherStatus(ctx, reply, url, err);
  });
  if (authenticate.outcome !== "ok") {
    return { checks: [authenticate, skippedCheck("read_costs", NOT_RUN)], account: null };
  }

  let account: ConnectionTestResult["account"] = organizationId ? { id: organizationId, name: null } : null;
  const readCosts = await timedCheck("read_costs", async () => {
    const url = costsUrl(ctx, base);
    const reply = await fetchWithTimeout(ctx, url, { headers });
    if (reply.kind === "failure") return reply.check;
    const err = openAIError(reply);
    if (reply.status === 200) {
      if (!isCostsPage(reply.json)) return unexpectedBody(ctx, url);
      account = accountFrom(reply.json, organizationId);
      return { outcome: "ok" };
    }
    if (reply.status === 403 && err.code === REGION_CODE) return regionRefused(err);
    if (reply.status === 401 && err.code === "ip_not_authorized") return unauthorized(err);
    if (reply.status === 401 || reply.status === 403) {
      const scopes = missingScopes(err);
      const named = scopes && scopes.length > 0 ? `; OpenAI says it lacks ${scopes.join(", ")}` : "";
      return {
        outcome: "permission_denied",
        message: `This key cannot read organization costs (HTTP ${reply.status}${err.code ? `, ${err.code}` : ""}${named}). ${OPENAI_ADMIN_KEY_HINT}`,
      };
    }
    return otherStatus(ctx, reply, url, err);
  });
  return { checks: [authenticate, readCosts], account };
};

export const testOpenAI: ConnectionTest = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key");
  const organizationId = credentialString(ctx, "organization_id");
  if (!apiKey) {
    return combineChecks(
      [toCheck("authenticate", { outcome: "auth_failed", message: "No OpenAI API key was given." }, 0)],
      { key_kind: null },
    );
  }
  const keyKind = openAIKeyKind(apiKey);
  const base = ctx.endpoints.api_base ?? DEFAULT_API_BASE;
  const headers = headersFor(apiKey, organizationId);
  const { checks, account } =
    keyKind === "admin"
      ? await testAdminKey(ctx, base, headers, organizationId)
      : await testOtherKey(ctx, base, headers, organizationId);
  return combineChecks(checks, { account, key_kind: keyKind, secrets: [apiKey] });
};

/** For pipelines: the key with the headers and base URL the connection test used. */
export const authenticateOpenAI: PipelineAuthenticator = async (ctx) => {
  const apiKey = credentialString(ctx, "api_key") ?? "";
  return apiKeyAccess(ctx, apiKey, headersFor(apiKey, credentialString(ctx, "organization_id")), ctx.endpoints.api_base ?? DEFAULT_API_BASE);
};

export const openAISetupInfo: SetupInfoBuilder = async (provider) => ({
  steps: [
    "An organization Owner creates an Admin key at platform.openai.com → Settings → Organization → Admin keys.",
    `Give it read access to usage (${provider.cost_permissions.join(", ")}). Project keys cannot read organization costs.`,
  ],
});
