import "server-only";

import { classifyHttpStatus, combineChecks, credentialString, fetchWithTimeout, getPath, joinUrl, originOf, rateLimited, skippedCheck, timed, toCheck, unexpectedBody, unexpectedStatus, type CheckBody, type HttpReply } from "../http";
import type { ConnectionTest, ConnectionTestContext } from "../types";

import { ARM_AUDIENCES, AZURE_COST_QUERY_API_VERSION, AZURE_COST_QUERY_BODY, type AzureSpn, DEFAULT_MANAGEMENT_BASE, KEY_KIND, NOT_RUN, acquireAzureToken, armError, missingFields, spnFrom, tenantClaim } from "./token";

/** azure: the Cost Management query that proves the service principal can read costs. */

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
