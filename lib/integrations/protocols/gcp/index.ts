import "server-only";

import { gaxios, JWT } from "google-auth-library";

import {
  classifyFetchError,
  classifyHttpStatus,
  combineChecks,
  fetchWithTimeout,
  getPath,
  isRecord,
  joinUrl,
  parseGoogleApiError,
  rateLimited,
  safeToken,
  skippedCheck,
  timed,
  toCheck,
  tokenSuffix,
  unexpectedBody,
  unexpectedStatus,
  type CheckBody,
  type HttpReply,
  NOT_RUN_AFTER_AUTH,
} from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";
import { AppError } from "../../../errors";
import { oversizedRsaKeyReason } from "../../../kms/private-key";

/** Google writes 2048-bit keys; uploaded ones may be up to 4096 (https://cloud.google.com/iam/docs/keys-upload). */
const MAX_RSA_BITS = 4096;
import { definitionOf } from "../http";

/**
 * Google Cloud service accounts (docs/providers.md, "Google Cloud" and "Google Vertex AI"), for `gcp` and `gcp_vertex`.
 *
 * 1. authenticate: google-auth-library's `JWT` signs the assertion (aud = Google's token URL, which
 *    Google checks) and exchanges it for an access token. The library posts to a hard-coded
 *    https://oauth2.googleapis.com/token; our own Gaxios transporter sends that one URL to the
 *    configured `endpoints.token_url` (GOOGLE_OAUTH_TOKEN_URL) and refuses every other URL. The key
 *    file's `token_uri` (and its other URLs) are never read: a key file is user input (SSRF).
 *    No retries (one token request per test), the context's timeout, no redirects followed.
 * 2. read_costs: `POST {crm_api_base}/v1/projects/{project_id}:testIamPermissions` with the
 *    provider's cost permissions; the answer lists the subset held. It needs no permission itself
 *    and reads no data.
 */

/** The URL google-auth-library posts the assertion to, and the assertion's `aud`. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const DEFAULT_CRM_API_BASE = "https://cloudresourcemanager.googleapis.com";
const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

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
const TABLE_PERMISSION = /^bigquery\.tables\./;
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

const NOT_RUN = NOT_RUN_AFTER_AUTH;
const NEW_KEY_HINT = "create a new key (IAM → Service accounts → the account → Keys → Add key → JSON) and upload the new file";

interface ServiceAccount {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | undefined;
  projectId: string;
}

function serviceAccountOf(ctx: ConnectionTestContext): ServiceAccount | null {
  const sa = ctx.credential.service_account_json;
  if (!isRecord(sa)) return null;
  const { client_email: clientEmail, private_key: privateKey, private_key_id: privateKeyId, project_id: projectId } = sa;
  if (typeof clientEmail !== "string" || typeof privateKey !== "string" || typeof projectId !== "string") return null;
  if (!clientEmail || !privateKey || !projectId) return null;
  return {
    clientEmail,
    // Used exactly as stored: PEM escapes and line endings were normalized once, at the format
    // check (lib/integrations/schemas.ts), so this test and the pipeline sign with the same key.
    privateKey,
    privateKeyId: typeof privateKeyId === "string" && privateKeyId ? privateKeyId : undefined,
    projectId,
  };
}

// ---------------------------------------------------------------------------------------------
// authenticate

type TokenOutcome = { ok: true; accessToken: string; expiresAt: number | null } | { ok: false; check: CheckBody };

/** A transporter that can only ever reach the configured token endpoint, once, within the timeout. */
export function pinnedTransporter(
  ctx: ConnectionTestContext,
  tokenUrl: URL,
  seen: { sent: boolean; refused: boolean },
): gaxios.Gaxios {
  const transporter = new gaxios.Gaxios({
    timeout: ctx.timeoutMs,
    retry: false,
    retryConfig: { retry: 0, noResponseRetries: 0 },
    redirect: "manual",
    fetchImplementation: ctx.fetch,
  });
  transporter.interceptors.request.add({
    resolved: async (config) => {
      if (config.url.href !== GOOGLE_TOKEN_URL) {
        seen.refused = true;
        throw new Error("gcp connection test: request to an unexpected URL refused");
      }
      seen.sent = true;
      // A URL object, not a string: gaxios's error redactor reads config.url.searchParams and a
      // string there throws a TypeError that would hide the token endpoint's answer.
      config.url = new URL(tokenUrl.href);
      config.retry = false;
      config.retryConfig = { retry: 0, noResponseRetries: 0 };
      config.redirect = "manual";
      config.fetchImplementation = ctx.fetch;
      return config;
    },
  });
  return transporter;
}

/** The token endpoint's OAuth error answer (`error` is quoted only after safeToken accepted it). */
function oauthError(data: unknown): { error: string | null; description: string } {
  const description = getPath(data, "error_description");
  return {
    error: safeToken(getPath(data, "error")),
    description: typeof description === "string" ? description : "",
  };
}

function classifyTokenError(ctx: ConnectionTestContext, sa: ServiceAccount, tokenUrl: string, err: unknown): CheckBody {
  const response = err instanceof gaxios.GaxiosError ? err.response : undefined;
  if (!response) return classifyFetchError(ctx, tokenUrl, err);

  const reply: HttpReply = {
    kind: "response",
    status: response.status,
    headers: response.headers instanceof Headers ? response.headers : new Headers(),
    json: response.data,
  };
  const { error, description } = oauthError(response.data);
  const code = error ?? `HTTP ${reply.status}`;

  if (error === "invalid_grant") {
    if (/reasonable timeframe|short-lived|\biat\b|\bexp\b/i.test(description)) {
      return {
        outcome: "auth_failed",
        message:
          "Google rejected the signed token as outside a reasonable timeframe (invalid_grant). This usually means this " +
          "server's clock is wrong: check that it is synchronized (NTP) and try again.",
      };
    }
    if (/signature/i.test(description)) {
      return {
        outcome: "auth_failed",
        message:
          "Google rejected the key's signature (invalid_grant: Invalid JWT Signature). The key was deleted or disabled, or it is " +
          `not this service account's: ${NEW_KEY_HINT}.`,
      };
    }
  }
  if (error === "invalid_grant" || error === "invalid_client" || error === "unauthorized_client" || error === "disabled_client" || error === "deleted_client") {
    if (/disabled/i.test(description) || error === "disabled_client") {
      return {
        outcome: "auth_failed",
        message:
          `Google says the service account ${sa.clientEmail} is disabled (${code}). Enable it in IAM → Service accounts, ` +
          "or use a key of an enabled account.",
      };
    }
    if (/not found|deleted|does not exist/i.test(description) || error === "deleted_client") {
      return {
        outcome: "auth_failed",
        message:
          `Google does not know the service account ${sa.clientEmail} (${code}); it was probably deleted. ` +
          "Create a service account and a key for it, grant it the roles, and upload the new key file.",
      };
    }
    if (/expired/i.test(description)) {
      return {
        outcome: "expired",
        message: `Google says this service account key has expired (${code}): ${NEW_KEY_HINT}.`,
      };
    }
    return {
      outcome: "auth_failed",
      message: `Google refused this service account key (${code}). Check that the key file is the current one; if it is, ${NEW_KEY_HINT}.`,
    };
  }
  const general = classifyHttpStatus(ctx, reply, error);
  if (general) return general;
  if (reply.status === 400 || reply.status === 401 || reply.status === 403) {
    return {
      outcome: "provider_error",
      message: `Google's token endpoint refused the token request (${code}). Try again later; if it persists, report it to the operators.`,
    };
  }
  return unexpectedStatus(ctx, reply, tokenUrl, error);
}

async function authenticate(ctx: ConnectionTestContext, sa: ServiceAccount): Promise<TokenOutcome> {
  const configured = ctx.endpoints.token_url ?? GOOGLE_TOKEN_URL;
  let tokenUrl: URL;
  try {
    tokenUrl = new URL(configured);
    if (tokenUrl.protocol !== "https:" && tokenUrl.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    return {
      ok: false,
      check: {
        outcome: "provider_error",
        message: "The configured Google token endpoint (GOOGLE_OAUTH_TOKEN_URL) is not a valid http(s) URL. Report it to the operators.",
      },
    };
  }

  const seen = { sent: false, refused: false };
  const jwt = new JWT({
    email: sa.clientEmail,
    key: sa.privateKey,
    keyId: sa.privateKeyId,
    scopes: [CLOUD_PLATFORM_SCOPE],
    transporter: pinnedTransporter(ctx, tokenUrl, seen),
    // No logging interceptors: they would log the token response.
    useAuthRequestParameters: false,
  });

  try {
    const tokens = await jwt.authorize();
    const accessToken = tokens.access_token;
    if (typeof accessToken !== "string" || accessToken === "") {
      return { ok: false, check: unexpectedBody(ctx, tokenUrl.href) };
    }
    return { ok: true, accessToken, expiresAt: typeof tokens.expiry_date === "number" ? tokens.expiry_date : null };
  } catch (err) {
    if (seen.refused) {
      return {
        ok: false,
        check: {
          outcome: "provider_error",
          message: "The connection test failed unexpectedly. Try again; if it persists, report it to the operators.",
        },
      };
    }
    if (!seen.sent) {
      // Signing failed before any request: the PEM is not a usable RSA private key.
      return {
        ok: false,
        check: {
          outcome: "auth_failed",
          message:
            "The key file's private_key could not be used to sign (it is damaged or not an RSA private key). " +
            "Upload the key file exactly as Google downloaded it, or create a new key.",
        },
      };
    }
    return { ok: false, check: classifyTokenError(ctx, sa, tokenUrl.href, err) };
  }
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

async function readCosts(ctx: ConnectionTestContext, sa: ServiceAccount, accessToken: string): Promise<CheckBody> {
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

// ---------------------------------------------------------------------------------------------

export const testGcpServiceAccount: ConnectionTest = async (ctx) => {
  const sa = serviceAccountOf(ctx);
  if (!sa) {
    return combineChecks(
      [
        toCheck(
          "authenticate",
          { outcome: "auth_failed", message: "No usable service account key file was given (client_email, private_key and project_id are needed)." },
          0,
        ),
        skippedCheck("read_costs", NOT_RUN),
      ],
      { key_kind: "service_account" },
    );
  }
  // Bounded work (docs/security.md): signing with a huge RSA key holds the event loop for seconds.
  const oversized = oversizedRsaKeyReason(sa.privateKey, MAX_RSA_BITS);
  if (oversized) {
    throw new AppError("invalid_format", `The ${ctx.providerName} credential is not valid: service_account_json private_key ${oversized}.`, {
      fields: { "credential.service_account_json": `private_key ${oversized}` },
    });
  }

  const checks: CheckResult[] = [];
  let account: ConnectionTestResult["account"] = null;
  let accessToken: string | null = null;

  const auth = await timed(() => authenticate(ctx, sa));
  if (!auth.value.ok) {
    checks.push(toCheck("authenticate", auth.value.check, auth.duration_ms), skippedCheck("read_costs", NOT_RUN));
  } else {
    accessToken = auth.value.accessToken;
    account = { id: sa.projectId, name: sa.clientEmail };
    checks.push(toCheck("authenticate", { outcome: "ok" }, auth.duration_ms));
    const token = accessToken;
    const costs = await timed(async (): Promise<CheckBody> => {
      try {
        return await readCosts(ctx, sa, token);
      } catch {
        return {
          outcome: "provider_error",
          message: "The connection test failed unexpectedly. Try again; if it persists, report it to the operators.",
        };
      }
    });
    checks.push(toCheck("read_costs", costs.value, costs.duration_ms));
  }

  const readCheck = checks.find((c) => c.name === "read_costs");
  const warnings = readCheck?.outcome === "ok" && readCheck.message === BILLING_TABLE_WARNING ? { "metadata.billing_export_table": BILLING_TABLE_WARNING } : undefined;
  return combineChecks(checks, {
    account,
    key_kind: "service_account",
    secrets: [sa.privateKey, accessToken],
    ...(warnings ? { warnings } : {}),
  });
};

/**
 * For pipelines: an access token made exactly as the connection test makes it (the same signed
 * assertion, key id, scope and pinned token endpoint; never the key file's token_uri).
 */
export const authenticateGoogle: PipelineAuthenticator = async (ctx) => {
  const sa = serviceAccountOf(ctx);
  if (!sa) throw new Error("no usable service account key");
  const token = await authenticate(ctx, sa);
  if (!token.ok) throw new Error("Google refused the token request");
  return {
    kind: "google_access_token",
    provider: ctx.provider,
    access_token: token.accessToken,
    project_id: sa.projectId,
    expires_at: new Date(token.expiresAt ?? ctx.now() + 3_300_000).toISOString(),
  };
};

/**
 * Setup help from the registry: project-level roles are granted on the project that runs queries
 * (`gcloud projects add-iam-policy-binding`), table-level ones on the billing export dataset
 * (`bq add-iam-policy-binding … PROJECT:DATASET`), exactly where the connection test looks for them.
 */
export const googleSetupInfo: SetupInfoBuilder = async (provider) => {
  const roles = provider.permission_roles ?? {};
  const projectRoles = [...new Set(provider.cost_permissions.filter((p) => !TABLE_PERMISSION.test(p)).map((p) => roles[p]).filter((r): r is string => !!r))];
  const tableRoles = [...new Set(provider.cost_permissions.filter((p) => TABLE_PERMISSION.test(p)).map((p) => roles[p]).filter((r): r is string => !!r))];
  const account = provider.id === "gcp" ? "finops-reader" : `finops-${provider.id.replace(/^gcp_/, "").replace(/_/g, "-")}`;
  const member = `"serviceAccount:${account}@PROJECT_ID.iam.gserviceaccount.com"`;
  const steps = [
    `Create a service account in the project ${tableRoles.length > 0 ? "that runs the billing queries" : `that uses ${provider.name}`}.`,
    ...(projectRoles.length > 0 ? [`Grant it ${projectRoles.join(" and ")} on that project.`] : []),
    ...(tableRoles.length > 0
      ? [
          `Grant it ${tableRoles.join(" and ")} on the billing export dataset (it may live in another project).`,
          "Add the metadata key billing_export_table (project.dataset.gcp_billing_export_v1_<BILLING_ACCOUNT>): the connection test proves read access on that table.",
        ]
      : []),
    "Create a JSON key for it and upload the file.",
  ];
  const commands = [
    `gcloud iam service-accounts create ${account} --project PROJECT_ID`,
    ...projectRoles.map((r) => `gcloud projects add-iam-policy-binding PROJECT_ID --member ${member} --role ${r}`),
    ...tableRoles.map((r) => `bq add-iam-policy-binding --member ${member} --role ${r} BILLING_PROJECT:BILLING_DATASET`),
    `gcloud iam service-accounts keys create key.json --iam-account ${account}@PROJECT_ID.iam.gserviceaccount.com`,
  ];
  return { steps, commands };
};
