import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

import {
  FAKE_AZURE_APP,
  FAKE_AZURE_APP_EXPIRED_SECRET,
  FAKE_AZURE_APP_HANG,
  FAKE_AZURE_APP_NO_ROLES,
  FAKE_AZURE_APP_THROTTLED,
  FAKE_AZURE_APP_UNAVAILABLE,
  FAKE_AZURE_OTHER_TENANT_ID,
  FAKE_AZURE_OTHER_TENANT_SUBSCRIPTION_ID,
  FAKE_AZURE_RETRY_AFTER_S,
  FAKE_AZURE_SUBSCRIPTION_ID,
  FAKE_AZURE_TENANT_ID,
} from "./azure-keys";
import { header, type FakeReply, type RecordedRequest } from "./server";
import { makeTestCa, type TestCa } from "./tls";

/**
 * Local stand-ins for Microsoft Entra ID (the token service), Azure Resource Manager (the Cost
 * Management query) and an Azure OpenAI resource (GET /openai/v1/models), answering like the real
 * services (docs/providers.md, "Microsoft Azure" and "Azure OpenAI").
 *
 * All three speak HTTPS with a certificate from a throwaway CA made at run time (tests/fakes/tls.ts):
 * MSAL, under @azure/identity, refuses any http: authority. The process that talks to them must
 * trust that CA:
 * - a server started for a test: `NODE_EXTRA_CA_CERTS=<caCertPath>` in its environment, plus
 *   `AZURE_AUTHORITY_HOST=<authorityUrl>`, `AZURE_MANAGEMENT_BASE=<managementUrl>`,
 *   `AZURE_OPENAI_ENDPOINT_OVERRIDE=<openaiUrl>`;
 * - the vitest process itself: `trustCaInProcess(fakes.caPem)` from tests/fakes/tls.ts, before the
 *   first request (Node 20 cannot add a CA to a running process any other way).
 * After close(), call removeTestCa() (tests/fakes/tls.ts) to delete the temp CA files.
 *
 * Entra ID (authorityUrl):
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration` → the OpenID metadata MSAL reads, with
 *   token_endpoint pointing back here; unknown tenant → 400 invalid_tenant AADSTS90002.
 * - `POST /{tenant}/oauth2/v2.0/token` (client_credentials, client_secret_post or Basic) → a Bearer
 *   token for `{resource}/.default`; errors exactly like AAD: 401 invalid_client AADSTS7000215 (wrong
 *   secret or the secret's ID), 401 invalid_client AADSTS7000222 (expired secret), 400
 *   unauthorized_client AADSTS700016 (app not in tenant), 400 invalid_request AADSTS90002 (tenant
 *   not found), 400 invalid_resource AADSTS500011 (unknown resource), 400 invalid_scope
 *   AADSTS1002012 (scope without /.default).
 * Tokens are JWT-shaped (claims aud, iss, tid, appid, oid, exp…; the signature is random bytes) and
 * the fake remembers every token it issued: the other two services accept only those.
 *
 * Azure Resource Manager (managementUrl):
 * - `POST /subscriptions/{id}/providers/Microsoft.CostManagement/query?api-version=…` → a query
 *   result `{"properties":{"columns":[…],"rows":[[…]]}}`; 401 AuthenticationFailed /
 *   InvalidAuthenticationToken / InvalidAuthenticationTokenAudience / ExpiredAuthenticationToken /
 *   InvalidAuthenticationTokenTenant (subscription of another tenant), 403 AuthorizationFailed (no
 *   Cost Management Reader), 404 SubscriptionNotFound, 429 with
 *   `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after: 9`, 503 ServiceUnavailable.
 *
 * Azure OpenAI (openaiUrl; one resource):
 * - `GET /openai/v1/models` → `{"object":"list","data":[…]}` for a token with audience
 *   https://ai.azure.com or https://cognitiveservices.azure.com; 401 (no/invalid token, wrong
 *   audience), 401 PermissionDenied (a valid token whose principal lacks Cognitive Services OpenAI
 *   User: the status Azure OpenAI answers with, see below; `setOpenAIPermissionDeniedStatus(403)`
 *   for the 403 the code also accepts), 404 for other paths, 429 with `retry-after: 9`, 503.
 *
 * Behaviour is chosen per app (the default apps in azure-keys.ts, or registerApp) or forced for a
 * whole service with setMode(mode, service).
 *
 * Sources, beside what the connection test relies on:
 * - the token request and its error body (`error`, `error_description`, `error_codes`):
 *   https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow;
 * - the AADSTS codes (7000215 invalid secret, 7000222 expired secret, 700016 app not in tenant,
 *   90002 tenant not found, 500011 resource principal not found, 1002012 scope):
 *   https://learn.microsoft.com/entra/identity-platform/reference-error-codes;
 * - ARM error codes (AuthenticationFailed, InvalidAuthenticationToken*, AuthorizationFailed,
 *   SubscriptionNotFound): https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors;
 * - Cost Management query and its throttling headers (`x-ms-ratelimit-microsoft.costmanagement-
 *   qpu-retry-after` and friends): https://learn.microsoft.com/rest/api/cost-management/query/usage
 *   and https://learn.microsoft.com/azure/cost-management-billing/automate/api-best-practices;
 * - a principal without the data action is answered HTTP 401 with `{"error":{"code":"PermissionDenied",
 *   "message":"Principal does not have access to API/Operation."}}` or "The principal `…` lacks the
 *   required data action `…` to perform `…` operation.": observed on <resource>.openai.azure.com in
 *   microsoft/semantic-kernel#10020, and as "Status: 401 (PermissionDenied)" in
 *   davrous/AzureAgentToM365#3 and microsoft-foundry/foundry-samples#155;
 * - Azure OpenAI v1 (`/openai/v1/models`, no api-version) and its token audiences
 *   (https://ai.azure.com for v1, https://cognitiveservices.azure.com for dated versions):
 *   https://github.com/openai/openai-node/blob/master/docs/azure.md and https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle.
 * Where they disagree (which audience a resource accepts) the code accepts both: v1 first, then
 * the Cognitive Services audience, and the pipeline gets whichever the resource accepted.
 */

export type AzureFakeService = "token" | "management" | "openai";
export type AzureFakeMode = "normal" | "hang" | "unavailable" | "rate_limited";
/** What the app's data-plane calls (management, openai) get; token requests are unaffected. */
export type AzureAppBehaviour = "ok" | "rate_limited" | "unavailable" | "hang";

export interface AzureRecordedRequest extends RecordedRequest {
  service: AzureFakeService;
  /** True when the request arrived over TLS (always, for these servers: proof for tests). */
  encrypted: boolean;
}

export interface AzureAppRegistration {
  tenant: string;
  clientId: string;
  secret: string;
  /** The secret exists but has expired (AADSTS7000222). */
  secretExpired?: boolean;
  roles?: {
    /** Cost Management Reader on every subscription of the app's tenant. */
    costReader?: boolean;
    /** Cognitive Services OpenAI User on the fake resource. */
    openaiUser?: boolean;
  };
  behaviour?: AzureAppBehaviour;
  /** The service principal's object id (appears in ARM/AOAI error messages). Random by default. */
  objectId?: string;
  displayName?: string;
}

export interface AzureTenantOptions {
  /** false: the "Azure AI" first-party principal is missing, so https://ai.azure.com/.default → AADSTS500011. */
  aiAzureComResource?: boolean;
}

export interface IssuedToken {
  token: string;
  tenant: string;
  clientId: string;
  /** Resource (audience) without trailing slash, e.g. "https://management.azure.com". */
  audience: string;
  /** ms since epoch */
  expiresAt: number;
}

export interface AzureFakes {
  /** https://127.0.0.1:PORT — the value of AZURE_AUTHORITY_HOST. */
  authorityUrl: string;
  /** https://127.0.0.1:PORT — the value of AZURE_MANAGEMENT_BASE. */
  managementUrl: string;
  /** https://127.0.0.1:PORT — the value of AZURE_OPENAI_ENDPOINT_OVERRIDE. */
  openaiUrl: string;
  /** The throwaway CA's certificate file (NODE_EXTRA_CA_CERTS for a child process). */
  caCertPath: string;
  /** The same certificate, PEM (for trustCaInProcess). */
  caPem: string;
  /** Every request any of the three services received, oldest first. */
  requests: AzureRecordedRequest[];
  /** Every token the token service issued. */
  tokens: IssuedToken[];
  registerApp(app: AzureAppRegistration): void;
  registerTenant(tenant: string, opts?: AzureTenantOptions): void;
  /** A subscription the Cost Management query knows, in the given tenant. */
  registerSubscription(subscriptionId: string, tenant: string): void;
  /**
   * Token audiences the Azure OpenAI resource accepts (default: https://ai.azure.com and
   * https://cognitiveservices.azure.com). Lets a test make the resource refuse one of them.
   */
  setOpenAIAcceptedAudiences(audiences: string[]): void;
  /** The status of the resource's PermissionDenied answer (default 401, as observed; 403 also tested). */
  setOpenAIPermissionDeniedStatus(status: 401 | 403): void;
  /** Forces a behaviour on one service, or on all three when service is omitted ("normal" restores). */
  setMode(mode: AzureFakeMode, service?: AzureFakeService): void;
  clearRequests(): void;
  close(): Promise<void>;
}

export interface AzureFakesOptions {
  /** Register the apps, tenants and subscriptions of azure-keys.ts (default true). */
  defaultApps?: boolean;
  /** A CA made earlier (e.g. one a server under test already trusts via NODE_EXTRA_CA_CERTS). */
  ca?: TestCa;
  /** Fixed ports (default: random). */
  ports?: { authority?: number; management?: number; openai?: number };
}

// ---------------------------------------------------------------------------------------------
// HTTPS core (tests/fakes/server.ts is plain http)

interface HttpsFake {
  url: string;
  close(): Promise<void>;
}

async function startHttpsFake(
  service: AzureFakeService,
  requests: AzureRecordedRequest[],
  handler: (req: AzureRecordedRequest, self: { url: string }) => FakeReply | "hang",
  tls: { keyPem: string; certPem: string },
  listenPort = 0,
): Promise<HttpsFake> {
  const self = { url: "" };
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 1024 * 1024) chunks.push(chunk);
    });
    req.on("end", () => {
      const parsed = new URL(req.url ?? "/", "https://fake.invalid");
      const recorded: AzureRecordedRequest = {
        service,
        encrypted: (req.socket as TLSSocket).encrypted === true,
        method: req.method ?? "GET",
        path: req.url ?? "/",
        pathname: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      requests.push(recorded);
      let reply: FakeReply | "hang";
      try {
        reply = handler(recorded, self);
      } catch {
        reply = { status: 500, body: { error: { code: "InternalServerError", message: "fake crashed" } } };
      }
      if (reply === "hang") return; // never answer; close() destroys the socket
      const text = typeof reply.body === "string" ? reply.body : reply.body === undefined ? "" : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        "content-type": typeof reply.body === "string" ? "text/plain; charset=utf-8" : "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(text)),
        ...reply.headers,
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  self.url = `https://127.0.0.1:${port}`;
  let closed: Promise<void> | null = null;
  return {
    url: self.url,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Entra ID

const KNOWN_RESOURCES = ["https://management.azure.com", "https://cognitiveservices.azure.com", "https://ai.azure.com"] as const;

function aadTimestamp(): string {
  return new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** An AAD OAuth error body, exactly shaped like login.microsoftonline.com's. */
function aadError(status: number, error: string, code: number, text: string): FakeReply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = aadTimestamp();
  return {
    status,
    headers: { "x-ms-request-id": traceId, "client-request-id": correlationId, "cache-control": "no-store, no-cache" },
    body: {
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

const tenantNotFound = (tenant: string, status = 400, error = "invalid_tenant") =>
  aadError(
    status,
    error,
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  );

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString("base64url");
}

// ---------------------------------------------------------------------------------------------

interface AppState extends Required<Omit<AzureAppRegistration, "roles" | "displayName">> {
  roles: { costReader: boolean; openaiUser: boolean };
  displayName: string;
}

export async function startAzureFakes(opts: AzureFakesOptions = {}): Promise<AzureFakes> {
  const ca = opts.ca ?? makeTestCa();
  const requests: AzureRecordedRequest[] = [];
  const tokens: IssuedToken[] = [];
  const tokenIndex = new Map<string, IssuedToken>();
  const tenants = new Map<string, Required<AzureTenantOptions>>();
  const apps = new Map<string, AppState>(); // key: tenant|clientId
  const appsByClient = new Map<string, AppState[]>();
  const subscriptions = new Map<string, string>(); // id → tenant
  const modes: Record<AzureFakeService, AzureFakeMode> = { token: "normal", management: "normal", openai: "normal" };
  const DEFAULT_OPENAI_AUDIENCES = ["https://ai.azure.com", "https://cognitiveservices.azure.com"];
  let openaiAudiences = [...DEFAULT_OPENAI_AUDIENCES];
  let openaiDeniedStatus: 401 | 403 = 401;

  const registerTenant = (tenant: string, o: AzureTenantOptions = {}) => {
    const key = tenant.toLowerCase();
    const prev = tenants.get(key);
    tenants.set(key, { aiAzureComResource: o.aiAzureComResource ?? prev?.aiAzureComResource ?? true });
  };
  const registerApp = (a: AzureAppRegistration) => {
    registerTenant(a.tenant);
    const state: AppState = {
      tenant: a.tenant.toLowerCase(),
      clientId: a.clientId.toLowerCase(),
      secret: a.secret,
      secretExpired: a.secretExpired ?? false,
      roles: { costReader: a.roles?.costReader ?? false, openaiUser: a.roles?.openaiUser ?? false },
      behaviour: a.behaviour ?? "ok",
      objectId: a.objectId ?? randomUUID(),
      displayName: a.displayName ?? `finops-fake-${a.clientId.slice(0, 8)}`,
    };
    apps.set(`${state.tenant}|${state.clientId}`, state);
    appsByClient.set(state.clientId, [...(appsByClient.get(state.clientId) ?? []).filter((x) => x.tenant !== state.tenant), state]);
  };
  const registerSubscription = (id: string, tenant: string) => {
    registerTenant(tenant);
    subscriptions.set(id.toLowerCase(), tenant.toLowerCase());
  };

  if (opts.defaultApps !== false) {
    const full = { costReader: true, openaiUser: true };
    const defaults: Array<[typeof FAKE_AZURE_APP, Partial<AzureAppRegistration>]> = [
      [FAKE_AZURE_APP, { roles: full }],
      [FAKE_AZURE_APP_NO_ROLES, { roles: {} }],
      [FAKE_AZURE_APP_EXPIRED_SECRET, { roles: full, secretExpired: true }],
      [FAKE_AZURE_APP_THROTTLED, { roles: full, behaviour: "rate_limited" }],
      [FAKE_AZURE_APP_UNAVAILABLE, { roles: full, behaviour: "unavailable" }],
      [FAKE_AZURE_APP_HANG, { roles: full, behaviour: "hang" }],
    ];
    for (const [cred, extra] of defaults) {
      registerApp({ tenant: cred.tenant_id, clientId: cred.client_id, secret: cred.client_secret, ...extra });
    }
    registerTenant(FAKE_AZURE_OTHER_TENANT_ID);
    registerSubscription(FAKE_AZURE_SUBSCRIPTION_ID, FAKE_AZURE_TENANT_ID);
    registerSubscription(FAKE_AZURE_OTHER_TENANT_SUBSCRIPTION_ID, FAKE_AZURE_OTHER_TENANT_ID);
  }

  // --- token service -------------------------------------------------------------------------

  const issue = (app: AppState, audience: string, authorityUrl: string): FakeReply => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      aud: audience,
      iss: `https://sts.windows.net/${app.tenant}/`,
      iat: now,
      nbf: now,
      exp: now + 3599,
      aio: base64url(randomBytes(24)),
      appid: app.clientId,
      appidacr: "1",
      idp: `https://sts.windows.net/${app.tenant}/`,
      idtyp: "app",
      oid: app.objectId,
      sub: app.objectId,
      tid: app.tenant,
      uti: base64url(randomBytes(16)),
      ver: "1.0",
      xms_fake_authority: authorityUrl,
    };
    const token = [
      base64url(JSON.stringify({ typ: "JWT", alg: "RS256", kid: "fake-azure-key" })),
      base64url(JSON.stringify(claims)),
      base64url(randomBytes(64)),
    ].join(".");
    const issued: IssuedToken = { token, tenant: app.tenant, clientId: app.clientId, audience, expiresAt: (now + 3599) * 1000 };
    tokens.push(issued);
    tokenIndex.set(token, issued);
    return {
      status: 200,
      headers: { "cache-control": "no-store, no-cache", pragma: "no-cache" },
      body: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: token },
    };
  };

  const openIdConfiguration = (tenant: string, base: string) => {
    const t = `${base}/${tenant}`;
    return {
      token_endpoint: `${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${t}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${t}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
      authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${t}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
      kerberos_endpoint: `${t}/kerberos`,
      tenant_region_scope: "NA",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  };

  const tokenHandler = (req: AzureRecordedRequest, self: { url: string }): FakeReply | "hang" => {
    if (modes.token === "hang") return "hang";
    if (modes.token === "unavailable") {
      return { status: 503, headers: { "retry-after": "5" }, body: "Service Unavailable" };
    }
    if (modes.token === "rate_limited") {
      return { ...aadError(429, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop. Please contact your app vendor."), headers: { "retry-after": String(FAKE_AZURE_RETRY_AFTER_S) } };
    }

    const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(req.pathname);
    if (discovery && req.method === "GET") {
      const tenant = decodeURIComponent(discovery[1] ?? "");
      if (!tenants.has(tenant.toLowerCase())) return tenantNotFound(tenant);
      return { status: 200, body: openIdConfiguration(tenant.toLowerCase(), self.url) };
    }
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.pathname);
    if (!tokenPath || req.method !== "POST") {
      return { status: 404, body: "" };
    }
    const tenant = decodeURIComponent(tokenPath[1] ?? "").toLowerCase();
    const form = new URLSearchParams(req.body);
    let clientId = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = /^Basic\s+(\S+)$/i.exec(header(req, "authorization") ?? "");
    if (basic?.[1]) {
      const [id, pw] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
      clientId ??= decodeURIComponent(id ?? "");
      secret ??= decodeURIComponent(pw ?? "");
    }
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return aadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    }
    if (!tenants.has(tenant)) return tenantNotFound(tenant, 400, "invalid_request");
    if (!clientId) {
      return aadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.");
    }
    const app = apps.get(`${tenant}|${clientId.toLowerCase()}`);
    if (!app) {
      return aadError(
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    if (!secret) {
      return aadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    if (secret !== app.secret) {
      return aadError(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      );
    }
    if (app.secretExpired) {
      return aadError(
        401,
        "invalid_client",
        7000222,
        `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      );
    }
    const scope = form.get("scope");
    if (!scope) {
      return aadError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.");
    }
    const scopes = scope.split(/\s+/).filter((s) => s && !["openid", "profile", "offline_access"].includes(s));
    const first = scopes[0] ?? "";
    if (scopes.length !== 1 || !first.endsWith("/.default")) {
      return aadError(
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = first.slice(0, -"/.default".length).replace(/\/+$/, "");
    const tenantOpts = tenants.get(tenant);
    const known = (KNOWN_RESOURCES as readonly string[]).includes(resource) && !(resource === "https://ai.azure.com" && tenantOpts?.aiAzureComResource === false);
    if (!known) {
      return aadError(
        400,
        "invalid_resource",
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    return issue(app, resource, self.url);
  };

  /** The token of a request, checked like ARM/AOAI do: issued here, not expired. */
  const bearerOf = (req: AzureRecordedRequest): { token: IssuedToken | null; raw: string | null } => {
    const auth = header(req, "authorization");
    const raw = auth ? (/^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] ?? null) : null;
    return { raw, token: raw ? (tokenIndex.get(raw) ?? null) : null };
  };

  const behaviourReply = (behaviour: AzureAppBehaviour | AzureFakeMode, kind: "management" | "openai"): FakeReply | "hang" | null => {
    switch (behaviour) {
      case "hang":
        return "hang";
      case "unavailable":
        return {
          status: 503,
          headers: { "retry-after": "10" },
          body: { error: { code: "ServiceUnavailable", message: "The service is temporarily unavailable. Please try again later." } },
        };
      case "rate_limited":
        return kind === "management"
          ? {
              status: 429,
              headers: {
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": String(FAKE_AZURE_RETRY_AFTER_S),
                "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed": "12",
                "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "0",
              },
              body: { error: { code: "429", message: "Too many requests. Please retry." } },
            }
          : {
              status: 429,
              headers: { "retry-after": String(FAKE_AZURE_RETRY_AFTER_S), "x-ratelimit-remaining-requests": "0" },
              body: {
                error: {
                  code: "429",
                  message: `Requests to the Models_List Operation under Azure OpenAI API have exceeded call rate limit of your current pricing tier. Please retry after ${FAKE_AZURE_RETRY_AFTER_S} seconds.`,
                },
              },
            };
      default:
        return null;
    }
  };

  // --- Azure Resource Manager ---------------------------------------------------------------

  const armError = (status: number, code: string, message: string, headers: Record<string, string> = {}): FakeReply => ({
    status,
    headers: { "x-ms-request-id": randomUUID(), "x-ms-correlation-request-id": randomUUID(), ...headers },
    body: { error: { code, message } },
  });

  const managementHandler = (req: AzureRecordedRequest): FakeReply | "hang" => {
    const forced = behaviourReply(modes.management, "management");
    if (forced) return forced;
    const m = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.CostManagement\/query\/?$/i.exec(req.pathname);
    if (!m || req.method !== "POST") {
      return armError(404, "InvalidResourceType", `The resource type could not be found in the namespace for api version '${req.query.get("api-version") ?? ""}'.`);
    }
    const apiVersion = req.query.get("api-version");
    if (!apiVersion) {
      return armError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    }
    if (!["2023-11-01", "2024-08-01", "2025-03-01", "2023-03-01"].includes(apiVersion)) {
      return armError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid.`);
    }
    const auth = header(req, "authorization");
    if (!auth) return armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
    const { token, raw } = bearerOf(req);
    if (!raw) return armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
    if (!token) return armError(401, "InvalidAuthenticationToken", "The access token is invalid.");
    if (token.expiresAt <= Date.now()) {
      return armError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.");
    }
    if (token.audience !== "https://management.azure.com") {
      return armError(
        401,
        "InvalidAuthenticationTokenAudience",
        `The access token has been obtained for wrong audience or resource '${token.audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
      );
    }
    const subscriptionId = decodeURIComponent(m[1] ?? "").toLowerCase();
    const subTenant = subscriptions.get(subscriptionId);
    if (!subTenant) return armError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
    if (subTenant !== token.tenant) {
      return armError(
        401,
        "InvalidAuthenticationTokenTenant",
        `The access token is from the wrong issuer 'https://sts.windows.net/${token.tenant}/'. It must match the tenant 'https://sts.windows.net/${subTenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${subTenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
      );
    }
    const app = apps.get(`${token.tenant}|${token.clientId}`);
    if (!app) return armError(401, "InvalidAuthenticationToken", "The access token is invalid.");
    const behaviour = behaviourReply(app.behaviour, "management");
    if (behaviour) return behaviour;
    if (!app.roles.costReader) {
      return armError(
        403,
        "AuthorizationFailed",
        `The client '${app.objectId}' with object id '${app.objectId}' does not have authorization to perform action 'Microsoft.CostManagement/query/action' over scope '/subscriptions/${subscriptionId}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return armError(400, "BadRequest", "Invalid query definition: the request body is not valid JSON.");
    }
    const b = body as { type?: unknown; timeframe?: unknown; dataset?: unknown } | null;
    if (!b || typeof b.type !== "string" || typeof b.timeframe !== "string" || typeof b.dataset !== "object" || b.dataset === null) {
      return armError(400, "BadRequest", "Invalid query definition: type, timeframe and dataset are required.");
    }
    const queryId = randomUUID();
    return {
      status: 200,
      headers: {
        "x-ms-request-id": randomUUID(),
        "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed": "1",
        "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "OperationQpu=99;QpuPer1Min=11",
      },
      body: {
        id: `subscriptions/${subscriptionId}/providers/Microsoft.CostManagement/query/${queryId}`,
        name: queryId,
        type: "Microsoft.CostManagement/query",
        location: null,
        sku: null,
        eTag: null,
        properties: {
          nextLink: null,
          columns: [
            { name: "Cost", type: "Number" },
            { name: "Currency", type: "String" },
          ],
          rows: [[1234.5678, "USD"]],
        },
      },
    };
  };

  // --- Azure OpenAI ---------------------------------------------------------------------------

  const aoaiError = (status: number, code: string, message: string, headers: Record<string, string> = {}): FakeReply => ({
    status,
    headers: { "apim-request-id": randomUUID(), "x-ms-region": "East US", ...headers },
    body: { error: { code, message } },
  });

  const openaiHandler = (req: AzureRecordedRequest): FakeReply | "hang" => {
    const forced = behaviourReply(modes.openai, "openai");
    if (forced) return forced;
    if (req.method !== "GET" || req.pathname.replace(/\/+$/, "") !== "/openai/v1/models") {
      return aoaiError(404, "404", "Resource not found");
    }
    const { token } = bearerOf(req);
    if (!header(req, "authorization") && !header(req, "api-key")) {
      return aoaiError(401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.");
    }
    if (!token || token.expiresAt <= Date.now() || !openaiAudiences.includes(token.audience)) {
      return aoaiError(401, "401", "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.");
    }
    const app = apps.get(`${token.tenant}|${token.clientId}`);
    if (!app) return aoaiError(401, "401", "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.");
    const behaviour = behaviourReply(app.behaviour, "openai");
    if (behaviour) return behaviour;
    if (!app.roles.openaiUser) {
      return aoaiError(
        openaiDeniedStatus,
        "PermissionDenied",
        `The principal \`${app.objectId}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/models/read\` to perform \`GET /openai/v1/models\` operation.`,
      );
    }
    return {
      status: 200,
      headers: { "apim-request-id": randomUUID(), "x-ms-region": "East US" },
      body: {
        object: "list",
        data: [
          { id: "gpt-4.1", object: "model", created_at: 1744588800, status: "succeeded", lifecycle_status: "generally-available", capabilities: { chat_completion: true, completion: false, embeddings: false, fine_tune: true, inference: true } },
          { id: "text-embedding-3-small", object: "model", created_at: 1706140800, status: "succeeded", lifecycle_status: "generally-available", capabilities: { chat_completion: false, completion: false, embeddings: true, fine_tune: false, inference: true } },
        ],
      },
    };
  };

  const token = await startHttpsFake("token", requests, tokenHandler, ca, opts.ports?.authority);
  const management = await startHttpsFake("management", requests, (req) => managementHandler(req), ca, opts.ports?.management);
  const openai = await startHttpsFake("openai", requests, (req) => openaiHandler(req), ca, opts.ports?.openai);

  return {
    authorityUrl: token.url,
    managementUrl: management.url,
    openaiUrl: openai.url,
    caCertPath: ca.caCertPath,
    caPem: ca.caPem,
    requests,
    tokens,
    registerApp,
    registerTenant,
    registerSubscription,
    setOpenAIAcceptedAudiences(audiences: string[]) {
      openaiAudiences = audiences.length > 0 ? [...audiences] : [...DEFAULT_OPENAI_AUDIENCES];
    },
    setOpenAIPermissionDeniedStatus(status: 401 | 403) {
      openaiDeniedStatus = status;
    },
    setMode(mode: AzureFakeMode, service?: AzureFakeService) {
      if (service) modes[service] = mode;
      else modes.token = modes.management = modes.openai = mode;
    },
    clearRequests() {
      requests.length = 0;
    },
    async close() {
      await Promise.all([token.close(), management.close(), openai.close()]);
    },
  };
}
