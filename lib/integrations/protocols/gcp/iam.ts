import "server-only";

import { classifyHttpStatus, fetchWithTimeout, getPath, isRecord, joinUrl, parseGoogleApiError, rateLimited, safeToken, tokenSuffix, unexpectedBody, unexpectedStatus, type CheckBody } from "../http";
import type { ConnectionTestContext } from "../types";

import { definitionOf } from "../http";
import { NEW_KEY_HINT, type ServiceAccount } from "./jwt";

/**
 * What the cost pipeline needs, proven where it is granted: project-level permissions with Resource
 * Manager's projects.testIamPermissions, table-level ones with BigQuery's tables.testIamPermissions.
 */

const DEFAULT_CRM_API_BASE = "https://cloudresourcemanager.googleapis.com";
/**
 * Permissions proven on a BigQuery table rather than on the project. A dataset-level grant
 * (`roles/bigquery.dataViewer` on the billing export dataset, as the setup help says) never shows in
 * `projects.testIamPermissions`, which "returns the permissions that a caller has on the specified
 * project" from project-level (and ancestor) bindings only
 * (https://cloud.google.com/resource-manager/reference/rest/v1/projects/testIamPermissions;
 * https://cloud.google.com/bigquery/docs/control-access-to-resources-iam). So these are asked of the
 * table itself with BigQuery's `tables.testIamPermissions`
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/testIamPermissions).
 */
export const TABLE_PERMISSION = /^bigquery\.tables\./;
const DEFAULT_BIGQUERY_API_BASE = "https://bigquery.googleapis.com";
/** project.dataset.table, as the registry's billing_export_table pattern allows. */
const TABLE_REF = /^([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_]{1,1024})$/;

/** The cost permissions of this provider, from the registry: project-level and table-level. */
export function gcpPermissionPlan(ctx: ConnectionTestContext): { project: string[]; table: string[] } {
  const all = definitionOf(ctx).cost_permissions;
  return { project: all.filter((p) => !TABLE_PERMISSION.test(p)), table: all.filter((p) => TABLE_PERMISSION.test(p)) };
}

function roleFor(ctx: ConnectionTestContext, permission: string): string | undefined {
  return definitionOf(ctx).permission_roles?.[permission];
}

// ---------------------------------------------------------------------------------------------
// read_costs

function missingPermissionsMessage(ctx: ConnectionTestContext, sa: ServiceAccount, missing: string[]): string {
  const roles = [...new Set(missing.map((p) => roleFor(ctx, p)).filter((r): r is string => !!r))];
  return (
    `The service account ${sa.clientEmail} lacks ${missing.length === 1 ? "the permission" : "the permissions"} ` +
    `${missing.join(", ")} on project ${sa.projectId}, which ${ctx.providerName} needs. ` +
    (roles.length > 0
      ? `Grant ${roles.join(" and ")} to the service account on the project (IAM → Grant access), then test again.`
      : "Grant a role that includes them to the service account on the project, then test again.")
  );
}

/** 200 `{permissions: [...]}` (the key is left out when none is held) → the missing ones, or null for a body that is not that. */
function missingFrom(json: unknown, asked: readonly string[]): string[] | null {
  if (!isRecord(json)) return null;
  const listed = json.permissions;
  // Google leaves `permissions` out when the caller holds none of them.
  if (listed !== undefined && !Array.isArray(listed)) return null;
  const held = new Set((listed ?? []).filter((p): p is string => typeof p === "string"));
  return asked.filter((p) => !held.has(p));
}

async function testIam(ctx: ConnectionTestContext, url: string, accessToken: string, permissions: readonly string[]) {
  return fetchWithTimeout(ctx, url, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ permissions }),
  });
}

/** `projects.testIamPermissions` on the key's project, for the project-level permissions. */
async function checkProject(ctx: ConnectionTestContext, sa: ServiceAccount, accessToken: string, permissions: readonly string[]): Promise<CheckBody> {
  const base = ctx.endpoints.crm_api_base ?? DEFAULT_CRM_API_BASE;
  const url = joinUrl(base, `/v1/projects/${encodeURIComponent(sa.projectId)}:testIamPermissions`);
  const reply = await testIam(ctx, url, accessToken, permissions);
  if (reply.kind === "failure") return reply.check;

  if (reply.status === 200) {
    const missing = missingFrom(reply.json, permissions);
    if (missing === null) return unexpectedBody(ctx, url);
    if (missing.length === 0) return { outcome: "ok" };
    return { outcome: "permission_denied", message: missingPermissionsMessage(ctx, sa, missing) };
  }

  const e = parseGoogleApiError(reply.json);
  const detail = e.reasons[0] ?? e.status;
  if (e.reasons.includes("SERVICE_DISABLED")) {
    return {
      outcome: "permission_denied",
      message:
        "The Cloud Resource Manager API is not enabled for the service account's project (SERVICE_DISABLED): enable the " +
        "Cloud Resource Manager API (cloudresourcemanager.googleapis.com) in the project under APIs & Services, wait a few " +
        "minutes, and test again.",
    };
  }
  if (e.reasons.includes("RATE_LIMIT_EXCEEDED") || e.reasons.includes("RESOURCE_EXHAUSTED") || e.status === "RESOURCE_EXHAUSTED") {
    return rateLimited(ctx, reply.headers, detail, e.retryDelay);
  }
  const general = classifyHttpStatus(ctx, reply, detail, e.retryDelay);
  if (general) return general;
  if (reply.status === 404) {
    return {
      outcome: "not_found",
      message:
        `Google could not find the project ${sa.projectId} (NOT_FOUND). Check the key file's project_id; the project may ` +
        "have been deleted or shut down.",
    };
  }
  if (reply.status === 401) {
    return {
      outcome: "auth_failed",
      message: `Google did not accept the access token it had just issued for this service account${tokenSuffix(detail)}. Try again; if it persists, ${NEW_KEY_HINT}.`,
    };
  }
  if (reply.status === 403) {
    if (e.reasons.includes("BILLING_DISABLED") || e.reasons.includes("CONSUMER_SUSPENDED") || e.reasons.includes("USER_PROJECT_DENIED")) {
      return {
        outcome: "permission_denied",
        message: `Google refused requests for the project ${sa.projectId} (${detail}). Check the project's status and billing in the Cloud Console.`,
      };
    }
    return {
      outcome: "permission_denied",
      message:
        `Google refused the permission check on the project ${sa.projectId}${tokenSuffix(detail)}. Check that the project ` +
        "exists and that the service account belongs to it or has been granted access to it.",
    };
  }
  return unexpectedStatus(ctx, reply, url, detail);
}

/** BigQuery's error body: `{"error": {code, message, status, errors: [{reason, domain, message}]}}`. */
function bigQueryReason(json: unknown): string | null {
  const errors = getPath(json, "error", "errors");
  if (Array.isArray(errors)) for (const e of errors) {
    const reason = safeToken(getPath(e, "reason"));
    if (reason) return reason;
  }
  return safeToken(getPath(json, "error", "status"));
}

/**
 * BigQuery `tables.testIamPermissions` on the billing export table, for the table-level
 * permissions. Google documents that an unknown resource "will return an empty set of permissions,
 * not a NOT_FOUND error" (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/testIamPermissions,
 * "Response body"); BigQuery has also been seen answering 404 `notFound` for a missing dataset or
 * table. Both are accepted: an empty set names the missing permission, a 404 names the table.
 */
async function checkTable(
  ctx: ConnectionTestContext,
  sa: ServiceAccount,
  accessToken: string,
  table: string,
  permissions: readonly string[],
): Promise<CheckBody> {
  const ref = TABLE_REF.exec(table);
  if (!ref) {
    return { outcome: "not_found", message: "billing_export_table must be project.dataset.table (the full name of the billing export table)." };
  }
  const [, project, dataset, tableId] = ref as unknown as [string, string, string, string];
  const base = ctx.endpoints.bigquery_api_base ?? DEFAULT_BIGQUERY_API_BASE;
  const url = joinUrl(
    base,
    `/bigquery/v2/projects/${encodeURIComponent(project)}/datasets/${encodeURIComponent(dataset)}/tables/${encodeURIComponent(tableId)}:testIamPermissions`,
  );
  const reply = await testIam(ctx, url, accessToken, permissions);
  if (reply.kind === "failure") return reply.check;
  const grant = (missing: readonly string[]) => {
    const roles = [...new Set(missing.map((p) => roleFor(ctx, p)).filter((r): r is string => !!r))];
    return (
      `The service account ${sa.clientEmail} lacks ${missing.join(", ")} on the billing export table ${table}. ` +
      `Grant ${roles.length > 0 ? roles.join(" and ") : "a role that includes it"} to the service account on the dataset ${project}:${dataset} ` +
      `(bq add-iam-policy-binding --member "serviceAccount:${sa.clientEmail}" --role ${roles[0] ?? "roles/bigquery.dataViewer"} ${project}:${dataset}), then test again.`
    );
  };
  if (reply.status === 200) {
    const missing = missingFrom(reply.json, permissions);
    if (missing === null) return unexpectedBody(ctx, url);
    if (missing.length === 0) return { outcome: "ok" };
    return { outcome: "permission_denied", message: grant(missing) };
  }
  const reason = bigQueryReason(reply.json);
  const general = classifyHttpStatus(ctx, reply, reason, parseGoogleApiError(reply.json).retryDelay);
  if (general) return general;
  if (reply.status === 404) {
    return {
      outcome: "not_found",
      message:
        `BigQuery found no table ${table} (HTTP 404${tokenSuffix(reason)}). Check billing_export_table: the export's project, ` +
        "dataset and table name (gcp_billing_export_v1_<BILLING_ACCOUNT>), and that the billing export is turned on.",
    };
  }
  if (reply.status === 403) {
    if (reason === "accessDenied" || reason === "PERMISSION_DENIED") return { outcome: "permission_denied", message: grant(permissions) };
    return {
      outcome: "permission_denied",
      message: `BigQuery refused the permission check on ${table}${tokenSuffix(reason)}. Check that the BigQuery API is enabled and the project is active.`,
    };
  }
  if (reply.status === 401) {
    return {
      outcome: "auth_failed",
      message: `BigQuery did not accept the access token Google had just issued for this service account${tokenSuffix(reason)}. Try again; if it persists, ${NEW_KEY_HINT}.`,
    };
  }
  return unexpectedStatus(ctx, reply, url, reason);
}

export const BILLING_TABLE_WARNING =
  "No billing_export_table was given, so read access to the billing export could not be proven: add the metadata key " +
  "billing_export_table (project.dataset.gcp_billing_export_v1_<BILLING_ACCOUNT>) and validate again.";

export async function readCosts(ctx: ConnectionTestContext, sa: ServiceAccount, accessToken: string): Promise<CheckBody> {
  const plan = gcpPermissionPlan(ctx);
  if (plan.project.length > 0) {
    const project = await checkProject(ctx, sa, accessToken, plan.project);
    if (project.outcome !== "ok") return project;
  }
  if (plan.table.length === 0) return { outcome: "ok" };
  const table = ctx.metadata?.billing_export_table;
  if (typeof table !== "string" || table === "") return { outcome: "ok", note: BILLING_TABLE_WARNING };
  return checkTable(ctx, sa, accessToken, table, plan.table);
}
