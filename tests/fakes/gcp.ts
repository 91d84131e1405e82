import crypto from "node:crypto";

import { GOOGLE_TOKEN_URI } from "./gcp-keys";
import { header, startFakeServer, type FakeReply, type FakeServer, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * A local stand-in for Google's OAuth token endpoint (https://oauth2.googleapis.com/token) and the
 * Cloud Resource Manager v1 `projects.testIamPermissions` (docs/providers.md, "Google Cloud" and "Google Vertex AI").
 *
 * `POST /token` takes the JWT-bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
 * &assertion=<JWT>`) and checks the assertion the way Google does: RS256 signature against a public
 * key registered for the issuing service account (the header's `kid` picks the key when present;
 * google-auth-library sends none, so every key of the account is tried), `iss` = a registered
 * client_email, `aud` = Google's token URL (whatever URL the fake itself runs on), `iat` within
 * ±5 min of the fake's clock, `exp` after it and at most an hour after `iat`, and a `scope`.
 * It answers `{access_token: "ya29.…", expires_in: 3599, token_type: "Bearer"}` or the OAuth error
 * bodies Google sends, with status 400.
 *
 * `POST /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}:testIamPermissions` (BigQuery v2,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/testIamPermissions) answers the
 * subset held on that table: grants on the table's project (IAM inheritance, project → dataset →
 * table, https://cloud.google.com/bigquery/docs/control-access-to-resources-iam) plus grants on its
 * dataset (`grantDataset`, what `bq add-iam-policy-binding … PROJECT:DATASET` does). A dataset grant
 * is NOT visible in Resource Manager's projects.testIamPermissions below, which "returns permissions
 * that a caller has on the specified project" only
 * (https://cloud.google.com/resource-manager/reference/rest/v1/projects/testIamPermissions).
 * For an unknown table Google's reference says the answer is "an empty set of permissions, not a
 * NOT_FOUND error" (same tables.testIamPermissions page); BigQuery has also been observed answering
 * 404 `notFound` ("Not found: Table p:d.t"). The fake answers 404 by default and the empty set in
 * mode "table_unknown_empty"; the code accepts both.
 *
 * `POST /v1/projects/{project}:testIamPermissions` needs a bearer token the fake issued and answers
 * `{"permissions":[…]}` with the subset of the requested permissions the account holds on that
 * project (`{}` when none, as Google does); errors are Google's `{"error":{code,message,status,
 * details}}`: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED/SERVICE_DISABLED, 404 NOT_FOUND (unknown
 * project), 429 RESOURCE_EXHAUSTED (RetryInfo 7s), 503 UNAVAILABLE, or no answer at all.
 */

export type GcpFakeMode =
  /** Per-account and per-project behaviour. */
  | "normal"
  /** CRM: 403 PERMISSION_DENIED, reason SERVICE_DISABLED (Cloud Resource Manager API not enabled). */
  | "service_disabled"
  /** CRM: 429 RESOURCE_EXHAUSTED with RetryInfo retryDelay "7s". */
  | "rate_limited"
  /** CRM: 503 UNAVAILABLE. */
  | "unavailable"
  /** CRM: never answers. */
  | "hang"
  /** Token endpoint: 429 with Retry-After: 7. */
  | "token_rate_limited"
  /** Token endpoint: 503. */
  | "token_unavailable"
  /** Token endpoint: never answers. */
  | "token_hang"
  /** BigQuery: an unknown table answers 200 with no permissions instead of 404. */
  | "table_unknown_empty";

export interface RegisterServiceAccountInput {
  /** The account's client_email (the assertion's `iss`). */
  email: string;
  /** private_key_id of the key; matched against the assertion header's `kid` when one is sent. */
  keyId: string;
  /** The public half Google keeps for that key (KeyObject or SPKI PEM). */
  publicKey: crypto.KeyObject | string;
  /** The project the permissions below are held on (usually the key file's project_id); it becomes known to the fake. */
  projectId?: string;
  /** Permissions the account holds on projectId (project-level grants). */
  permissions?: readonly string[];
  /** Predefined roles granted on projectId, expanded into their permissions as Google does (GOOGLE_ROLE_PERMISSIONS). */
  roles?: readonly GoogleRole[];
  /** A disabled service account: the token endpoint answers invalid_grant "Robot is disabled.". */
  disabled?: boolean;
}

export interface TokenRequestRecord {
  /** The assertion's `iss`, when it could be decoded. */
  iss: string | null;
  /** The assertion header's `kid`, if any. */
  kid: string | null;
  /** The decoded claims, when the assertion could be decoded. */
  claims: Record<string, unknown> | null;
  /** True when the RS256 signature verified against a registered key of the issuing account. */
  signatureVerified: boolean;
  /** The OAuth error answered, or null when a token was issued. */
  error: { error: string; error_description: string } | null;
  /** The access token issued (tests use it to check it never leaks). */
  accessToken: string | null;
}

export interface GcpFake extends FakeServer<GcpFakeMode> {
  /** `${url}/token`: what GOOGLE_OAUTH_TOKEN_URL points at. */
  tokenUrl: string;
  /** The fake's origin: what GOOGLE_CRM_API_BASE points at. */
  crmApiBase: string;
  /** The fake's origin: what GOOGLE_BIGQUERY_API_BASE points at. */
  bigqueryApiBase: string;
  /** Every POST /token, decoded and judged, oldest first (emptied by clearRequests). */
  tokenRequests: TokenRequestRecord[];
  /** Adds a key (and grants) for an account; registering the same email again adds to it. */
  registerServiceAccount(input: RegisterServiceAccountInput): void;
  /** Makes a BigQuery table ("project.dataset.table") known to tables.testIamPermissions. */
  registerTable(ref: string): void;
  /** A grant on a dataset (inherited by its tables), as `bq add-iam-policy-binding` makes: permissions, or roles expanded as Google does. */
  grantDataset(input: { email: string; project: string; dataset: string; permissions?: readonly string[]; roles?: readonly GoogleRole[] }): void;
  /** Makes a project known (testIamPermissions on an unknown project is a 404). */
  registerProject(projectId: string, opts?: { serviceDisabled?: boolean }): void;
  /** Shifts the fake's clock (ms) against the caller's: beyond ±5 min the assertion is out of its timeframe. */
  setClockOffset(ms: number): void;
  /** Forgets every account, project and issued token, and resets the clock offset. */
  reset(): void;
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SKEW_S = 300;
const MAX_LIFETIME_S = 3600;

/** The OAuth error descriptions Google sends (docs/providers.md, "Google Cloud"; [O] for each). */
export const GOOGLE_OAUTH_ERRORS = {
  badSignature: { error: "invalid_grant", error_description: "Invalid JWT Signature." },
  clockSkew: {
    error: "invalid_grant",
    error_description:
      "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
  },
  accountNotFound: { error: "invalid_grant", error_description: "Invalid grant: account not found" },
  accountDisabled: { error: "invalid_grant", error_description: "Robot is disabled." },
  badAudience: {
    error: "invalid_grant",
    error_description: `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URI}`,
  },
  badJwt: { error: "invalid_grant", error_description: "Invalid JWT: malformed token." },
  noScope: { error: "invalid_scope", error_description: "Invalid OAuth scope or ID token audience provided." },
  noAssertion: { error: "invalid_request", error_description: "Missing required parameter: assertion" },
} as const;

/**
 * The permissions of the predefined roles the setup help tells users to grant, as far as the
 * connection tests ask about them (each role holds more). A role grants its permissions on the
 * resource it is bound to and everything below it.
 * - roles/bigquery.jobUser holds bigquery.jobs.create and no table data access;
 *   roles/bigquery.dataViewer holds bigquery.tables.getData (and .get/.list) but NOT
 *   bigquery.jobs.create (https://cloud.google.com/bigquery/docs/access-control, "BigQuery Job User",
 *   "BigQuery Data Viewer"). So the billing export needs both, each where it applies.
 * - roles/aiplatform.viewer (what the setup help grants for gcp_vertex) holds aiplatform.endpoints.list
 *   and aiplatform.endpoints.get but NOT aiplatform.endpoints.predict: it views Vertex AI resources
 *   and cannot run (paid) inference (https://cloud.google.com/iam/docs/roles-permissions/aiplatform,
 *   "Vertex AI Viewer"; https://cloud.google.com/vertex-ai/docs/general/access-control).
 * - roles/aiplatform.user (what the setup help granted before decision 015; keys made then must still
 *   pass) is a superset: aiplatform.endpoints.list, .get and .predict
 *   (https://cloud.google.com/iam/docs/roles-permissions/aiplatform, "Vertex AI User").
 * - Neither Vertex AI role holds a BigQuery permission: a Vertex AI user or viewer cannot read the
 *   billing export by that role alone.
 */
export const GOOGLE_ROLE_PERMISSIONS = {
  "roles/bigquery.jobUser": ["bigquery.jobs.create"],
  "roles/bigquery.dataViewer": ["bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.list", "bigquery.datasets.get"],
  "roles/aiplatform.user": ["aiplatform.endpoints.list", "aiplatform.endpoints.predict", "aiplatform.endpoints.get"],
  "roles/aiplatform.viewer": ["aiplatform.endpoints.list", "aiplatform.endpoints.get"],
} as const satisfies Record<string, readonly string[]>;
export type GoogleRole = keyof typeof GOOGLE_ROLE_PERMISSIONS;

function expand(permissions: readonly string[] = [], roles: readonly GoogleRole[] = []): string[] {
  return [...permissions, ...roles.flatMap((r) => GOOGLE_ROLE_PERMISSIONS[r])];
}

const FAKE_PROJECT_NUMBER = "210987654321";
const CRM_SERVICE = "cloudresourcemanager.googleapis.com";

interface Account {
  keys: Map<string, crypto.KeyObject>;
  disabled: boolean;
  grants: Map<string, Set<string>>;
}

interface Project {
  serviceDisabled: boolean;
}

function oauthError(body: { error: string; error_description: string }, status = 400): FakeReply {
  return { status, body: { error: body.error, error_description: body.error_description } };
}

function googleError(code: number, status: string, message: string, details: unknown[] = [], headers?: Record<string, string>): FakeReply {
  return { status: code, body: { error: { code, message, status, details } }, headers };
}

function errorInfo(reason: string, metadata: Record<string, string>): Record<string, unknown> {
  return { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com", metadata };
}

function base64UrlJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export async function startGcpFake(opts: FakeServerOptions & { clockOffsetMs?: number } = {}): Promise<GcpFake> {
  const accounts = new Map<string, Account>();
  const projects = new Map<string, Project>();
  const issued = new Map<string, { email: string; expiresAt: number }>();
  const tokenRequests: TokenRequestRecord[] = [];
  const tables = new Set<string>();
  /** `${email}\u0000${project}.${dataset}` → permissions granted on the dataset. */
  const datasetGrants = new Map<string, Set<string>>();
  let clockOffsetMs = opts.clockOffsetMs ?? 0;

  function token(req: RecordedRequest, mode: GcpFakeMode): FakeReply | "hang" {
    const record: TokenRequestRecord = { iss: null, kid: null, claims: null, signatureVerified: false, error: null, accessToken: null };
    tokenRequests.push(record);
    const fail = (body: { error: string; error_description: string }, status = 400): FakeReply => {
      record.error = { ...body };
      return oauthError(body, status);
    };

    if (mode === "token_hang") return "hang";
    if (mode === "token_rate_limited") {
      record.error = { error: "rate_limit_exceeded", error_description: "Rate limit exceeded." };
      return { status: 429, headers: { "retry-after": "7" }, body: { ...record.error } };
    }
    if (mode === "token_unavailable") {
      record.error = { error: "temporarily_unavailable", error_description: "The service is currently unavailable." };
      return { status: 503, body: { ...record.error } };
    }

    const form = new URLSearchParams(req.body);
    const grantType = form.get("grant_type");
    if (grantType !== JWT_BEARER) {
      return fail({ error: "unsupported_grant_type", error_description: `Invalid grant_type: ${grantType ?? ""}` });
    }
    const assertion = form.get("assertion");
    if (!assertion) return fail(GOOGLE_OAUTH_ERRORS.noAssertion);

    const parts = assertion.split(".");
    if (parts.length !== 3) return fail(GOOGLE_OAUTH_ERRORS.badJwt);
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const jwtHeader = base64UrlJson(headerPart);
    const claims = base64UrlJson(payloadPart);
    if (!jwtHeader || !claims) return fail(GOOGLE_OAUTH_ERRORS.badJwt);
    record.claims = claims;
    record.kid = typeof jwtHeader.kid === "string" ? jwtHeader.kid : null;
    record.iss = typeof claims.iss === "string" ? claims.iss : null;
    if (jwtHeader.alg !== "RS256") return fail(GOOGLE_OAUTH_ERRORS.badSignature);

    const account = record.iss ? accounts.get(record.iss) : undefined;
    if (!account) return fail(GOOGLE_OAUTH_ERRORS.accountNotFound);

    const candidates = record.kid ? [account.keys.get(record.kid)].filter((k) => k !== undefined) : [...account.keys.values()];
    const signed = Buffer.from(`${headerPart}.${payloadPart}`);
    const signature = Buffer.from(signaturePart, "base64url");
    record.signatureVerified = candidates.some((key) => crypto.verify("RSA-SHA256", signed, key, signature));
    if (!record.signatureVerified) return fail(GOOGLE_OAUTH_ERRORS.badSignature);
    if (account.disabled) return fail(GOOGLE_OAUTH_ERRORS.accountDisabled);

    if (claims.aud !== GOOGLE_TOKEN_URI) return fail(GOOGLE_OAUTH_ERRORS.badAudience);
    const now = (Date.now() + clockOffsetMs) / 1000;
    const { iat, exp } = claims;
    if (
      typeof iat !== "number" ||
      typeof exp !== "number" ||
      Math.abs(iat - now) > SKEW_S ||
      exp <= now - SKEW_S ||
      exp <= iat ||
      exp - iat > MAX_LIFETIME_S
    ) {
      return fail(GOOGLE_OAUTH_ERRORS.clockSkew);
    }
    if (typeof claims.scope !== "string" || claims.scope.trim() === "") return fail(GOOGLE_OAUTH_ERRORS.noScope);

    const accessToken = `ya29.${crypto.randomBytes(48).toString("base64url")}`;
    issued.set(accessToken, { email: record.iss as string, expiresAt: Date.now() + 3599_000 });
    record.accessToken = accessToken;
    return { status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: "Bearer" } };
  }

  function testIamPermissions(req: RecordedRequest, mode: GcpFakeMode, projectId: string): FakeReply | "hang" {
    if (mode === "hang") return "hang";
    if (mode === "unavailable") return googleError(503, "UNAVAILABLE", "The service is currently unavailable.");
    if (mode === "rate_limited") {
      return googleError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.", [
        errorInfo("RATE_LIMIT_EXCEEDED", { service: CRM_SERVICE, consumer: `projects/${FAKE_PROJECT_NUMBER}` }),
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" },
      ]);
    }

    const auth = header(req, "authorization");
    const bearer = auth && /^Bearer /i.test(auth) ? auth.slice(7).trim() : null;
    const grant = bearer ? issued.get(bearer) : undefined;
    if (!grant || grant.expiresAt <= Date.now()) {
      return googleError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        [errorInfo(bearer ? "ACCESS_TOKEN_EXPIRED" : "CREDENTIALS_MISSING", { service: CRM_SERVICE, method: "google.cloudresourcemanager.v1.Projects.TestIamPermissions" })],
      );
    }

    const project = projects.get(projectId);
    if (mode === "service_disabled" || project?.serviceDisabled) {
      return googleError(
        403,
        "PERMISSION_DENIED",
        `Cloud Resource Manager API has not been used in project ${FAKE_PROJECT_NUMBER} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/${CRM_SERVICE}/overview?project=${FAKE_PROJECT_NUMBER} then retry.`,
        [
          errorInfo("SERVICE_DISABLED", {
            consumer: `projects/${FAKE_PROJECT_NUMBER}`,
            service: CRM_SERVICE,
            serviceTitle: "Cloud Resource Manager API",
            activationUrl: `https://console.developers.google.com/apis/api/${CRM_SERVICE}/overview?project=${FAKE_PROJECT_NUMBER}`,
            containerInfo: FAKE_PROJECT_NUMBER,
          }),
        ],
      );
    }
    if (!project) return googleError(404, "NOT_FOUND", "Requested entity was not found.");

    let requested: unknown;
    try {
      requested = (JSON.parse(req.body) as { permissions?: unknown }).permissions;
    } catch {
      requested = undefined;
    }
    if (!Array.isArray(requested) || !requested.every((p) => typeof p === "string")) {
      return googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected a list of permissions.");
    }
    const held = accounts.get(grant.email)?.grants.get(projectId) ?? new Set<string>();
    const subset = (requested as string[]).filter((p) => held.has(p));
    return { status: 200, body: subset.length > 0 ? { permissions: subset } : {} };
  }

  /** BigQuery's error shape: `{"error": {code, message, errors: [{message, domain, reason}], status}}`. */
  function bigQueryError(code: number, status: string, reason: string, message: string): FakeReply {
    return { status: code, body: { error: { code, message, errors: [{ message, domain: "global", reason }], status } } };
  }

  function tableTestIamPermissions(req: RecordedRequest, mode: GcpFakeMode, project: string, dataset: string, table: string): FakeReply | "hang" {
    const auth = header(req, "authorization");
    const bearer = auth && /^Bearer /i.test(auth) ? auth.slice(7).trim() : null;
    const grant = bearer ? issued.get(bearer) : undefined;
    if (!grant || grant.expiresAt <= Date.now()) {
      return bigQueryError(401, "UNAUTHENTICATED", "unauthorized", "Request is missing required authentication credential.");
    }
    let requested: unknown;
    try {
      requested = (JSON.parse(req.body) as { permissions?: unknown }).permissions;
    } catch {
      requested = undefined;
    }
    if (!Array.isArray(requested) || !requested.every((p) => typeof p === "string")) {
      return bigQueryError(400, "INVALID_ARGUMENT", "invalid", "Invalid JSON payload received.");
    }
    if (!tables.has(`${project}.${dataset}.${table}`)) {
      if (mode === "table_unknown_empty") return { status: 200, body: {} };
      return bigQueryError(404, "NOT_FOUND", "notFound", `Not found: Table ${project}:${dataset}.${table}`);
    }
    const held = new Set<string>([
      ...(accounts.get(grant.email)?.grants.get(project) ?? []),
      ...(datasetGrants.get(`${grant.email}\u0000${project}.${dataset}`) ?? []),
    ]);
    const subset = (requested as string[]).filter((p) => held.has(p));
    return { status: 200, body: subset.length > 0 ? { permissions: subset } : {} };
  }

  const crmPath = /^\/v1\/projects\/([^/:]+):testIamPermissions$/;
  const bqTablePath = /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/:]+):testIamPermissions$/;

  const server = await startFakeServer<GcpFakeMode>(
    (req, mode) => {
      if (req.method === "POST" && req.pathname === "/token") return token(req, mode);
      const m = crmPath.exec(req.pathname);
      if (req.method === "POST" && m) return testIamPermissions(req, mode, decodeURIComponent(m[1] as string));
      const t = bqTablePath.exec(req.pathname);
      if (req.method === "POST" && t) {
        return tableTestIamPermissions(req, mode, decodeURIComponent(t[1] as string), decodeURIComponent(t[2] as string), decodeURIComponent(t[3] as string));
      }
      return googleError(404, "NOT_FOUND", "The requested URL was not found on this server.");
    },
    "normal",
    opts,
  );

  return {
    ...server,
    tokenUrl: `${server.url}/token`,
    crmApiBase: server.url,
    bigqueryApiBase: server.url,
    tokenRequests,
    clearRequests() {
      server.clearRequests();
      tokenRequests.length = 0;
    },
    registerServiceAccount(input) {
      let account = accounts.get(input.email);
      if (!account) {
        account = { keys: new Map(), disabled: false, grants: new Map() };
        accounts.set(input.email, account);
      }
      const key = typeof input.publicKey === "string" ? crypto.createPublicKey(input.publicKey) : input.publicKey;
      account.keys.set(input.keyId, key);
      if (input.disabled !== undefined) account.disabled = input.disabled;
      if (input.projectId) {
        if (!projects.has(input.projectId)) projects.set(input.projectId, { serviceDisabled: false });
        const grants = account.grants.get(input.projectId) ?? new Set<string>();
        for (const p of expand(input.permissions, input.roles)) grants.add(p);
        account.grants.set(input.projectId, grants);
      }
    },
    registerTable(ref) {
      tables.add(ref);
    },
    grantDataset(input) {
      const k = `${input.email}\u0000${input.project}.${input.dataset}`;
      const set = datasetGrants.get(k) ?? new Set<string>();
      for (const p of expand(input.permissions, input.roles)) set.add(p);
      datasetGrants.set(k, set);
    },
    registerProject(projectId, projectOpts = {}) {
      projects.set(projectId, { serviceDisabled: projectOpts.serviceDisabled ?? false });
    },
    setClockOffset(ms) {
      clockOffsetMs = ms;
    },
    reset() {
      accounts.clear();
      projects.clear();
      tables.clear();
      datasetGrants.clear();
      issued.clear();
      clockOffsetMs = opts.clockOffsetMs ?? 0;
    },
  };
}
