import "server-only";

import { combineChecks, skippedCheck, timed, toCheck, type CheckBody, NOT_RUN_AFTER_AUTH } from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";
import { AppError } from "../../../errors";
import { oversizedRsaKeyReason } from "../../../kms/private-key";

import { authenticate, MAX_RSA_BITS, serviceAccountOf } from "./jwt";
import { BILLING_TABLE_WARNING, readCosts, TABLE_PERMISSION } from "./iam";

export { GOOGLE_TOKEN_URL, pinnedTransporter } from "./jwt";
export { BILLING_TABLE_WARNING, gcpPermissionPlan } from "./iam";

/**
 * Google Cloud service accounts (docs/providers.md, "Google Cloud" and "Google Vertex AI"), for `gcp` and `gcp_vertex`.
 *
 * 1. authenticate: google-auth-library's `JWT` signs the assertion (aud = Google's token URL, which
 *    Google checks) and exchanges it for an access token. The library posts to a hard-coded
 *    https://oauth2.googleapis.com/token; our own Gaxios transporter sends that one URL to the
 *    configured `endpoints.token_url` (GOOGLE_OAUTH_TOKEN_URL) and refuses every other URL. The key
 *    file's `token_uri` (and its other URLs) are never read: a key file is user input (SSRF).
 *    No retries (one token request per test), the context's timeout, no redirects followed.
 * 2. read_costs: `projects.testIamPermissions` on the key's project for the project-level cost
 *    permissions, then BigQuery `tables.testIamPermissions` on the `billing_export_table` metadata
 *    for the table-level ones (iam.ts). Neither needs a permission itself nor reads data.
 *
 * jwt.ts holds the token exchange (shared with the pipelines' authenticateGoogle below), iam.ts the
 * permission checks.
 */

const NOT_RUN = NOT_RUN_AFTER_AUTH;

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
  // Every project-level permission is proven on the key's own project, so a provider that also
  // needs its service's roles there (Vertex) has the billing queries run in that same project.
  const serviceRoles = projectRoles.filter((r) => !r.startsWith("roles/bigquery."));
  const where =
    serviceRoles.length === 0 ? "that runs the billing queries" : tableRoles.length > 0 ? `that uses ${provider.name} (the billing queries run there too)` : `that uses ${provider.name}`;
  const steps = [
    `Create a service account in the project ${where}.`,
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
