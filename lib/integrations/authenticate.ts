import "server-only";
import { STSClient, AssumeRoleCommand, GetSessionTokenCommand } from "@aws-sdk/client-sts";
import { ClientSecretCredential } from "@azure/identity";
import { JWT } from "google-auth-library";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "./deps";
import { resolveProviderOrThrow } from "./common";
import { getCredential } from "./get-credential";
import { resolveEndpoints } from "./protocols";
import { GOOGLE_TOKEN_URL, pinnedTransporter } from "./protocols/gcp";
import { armScopeFor, azureOpenAIAccess, azureOpenAIBase, azureSpnOf, MICROSOFT_AUTHORITY_HOSTS } from "./protocols/azure";
import { loadOciPrivateKey } from "./protocols/oci";
import type { ConnectionTestContext } from "./protocols/types";
import type { ConnectionTestKind, ResolvedProvider } from "./registry-schema";

/** What a cost pipeline needs to call the provider, by protocol. `expires_at` is ISO or null. */
export type PipelineAuth =
  | { kind: "api_key"; provider: string; api_key: string; headers: Record<string, string>; base_url: string; expires_at: null }
  | {
      kind: "aws";
      provider: string;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      region: string;
      expires_at: string | null;
    }
  | { kind: "google_access_token"; provider: string; access_token: string; project_id: string; expires_at: string }
  | { kind: "azure_access_token"; provider: string; access_token: string; scope: string; subscription_id?: string; endpoint?: string; expires_at: string }
  | { kind: "oci_request_signing"; provider: string; key_id: string; private_key_pem: string; region: string; tenancy_ocid: string; expires_at: null }
  | { kind: "manual"; provider: string; fields: Record<string, unknown>; expires_at: null };

type Authenticator = (input: { provider: ResolvedProvider; credential: Record<string, unknown>; org: string; deps: CoreDeps }) => Promise<PipelineAuth>;

const str = (c: Record<string, unknown>, k: string) => (typeof c[k] === "string" ? (c[k] as string) : "");

const apiKey =
  (headers: (key: string, c: Record<string, unknown>) => Record<string, string>): Authenticator =>
  async ({ provider, credential, deps }) => {
    const endpoints = resolveEndpoints(provider, credential, deps.env.endpointOverrides);
    const key = str(credential, "api_key");
    return { kind: "api_key", provider: provider.id, api_key: key, headers: headers(key, credential), base_url: endpoints.api_base ?? "", expires_at: null };
  };

const azureToken =
  (scopeFor: (endpoints: Record<string, string>) => string): Authenticator =>
  async ({ provider, credential, deps }) => {
    const endpoints = resolveEndpoints(provider, credential, deps.env.endpointOverrides);
    const authorityHost = (endpoints.authority_host || "https://login.microsoftonline.com").replace(/\/+$/, "");
    const cred = new ClientSecretCredential(str(credential, "tenant_id"), str(credential, "client_id"), str(credential, "client_secret"), {
      authorityHost,
      disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(authorityHost.toLowerCase()),
    });
    const scope = scopeFor(endpoints);
    const token = await cred.getToken(scope, { abortSignal: AbortSignal.timeout(deps.env.CONNECTION_TEST_TIMEOUT_MS) });
    return {
      kind: "azure_access_token",
      provider: provider.id,
      access_token: token.token,
      scope,
      ...(credential.subscription_id ? { subscription_id: str(credential, "subscription_id") } : {}),
      ...(credential.endpoint ? { endpoint: endpoints.endpoint_override || str(credential, "endpoint") } : {}),
      expires_at: new Date(token.expiresOnTimestamp).toISOString(),
    };
  };

/** The context the connection tests take, for a pipeline call: same endpoints, timeout and fetch. */
function pipelineContext(provider: ResolvedProvider, credential: Record<string, unknown>, org: string, deps: CoreDeps): ConnectionTestContext {
  return {
    provider: provider.id,
    providerName: provider.name,
    credential,
    endpoints: resolveEndpoints(provider, credential, deps.env.endpointOverrides),
    timeoutMs: deps.env.CONNECTION_TEST_TIMEOUT_MS,
    fetch: deps.fetch,
    now: deps.now,
    org,
    externalId: "",
    definition: provider,
  };
}

/** One authenticator per protocol, exhaustive like the connection tests. */
const AUTHENTICATORS: Record<ConnectionTestKind, Authenticator> = {
  openai: apiKey((key, c) => ({ authorization: `Bearer ${key}`, ...(c.organization_id ? { "openai-organization": str(c, "organization_id") } : {}) })),
  anthropic: apiKey((key) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" })),
  gemini: apiKey((key) => ({ "x-goog-api-key": key })),
  manual: async ({ provider, credential }) => ({ kind: "manual", provider: provider.id, fields: { ...credential }, expires_at: null }),
  aws_access_keys: async ({ provider, credential, deps }) => {
    const stored = {
      accessKeyId: str(credential, "access_key_id"),
      secretAccessKey: str(credential, "secret_access_key"),
      ...(credential.session_token ? { sessionToken: str(credential, "session_token") } : {}),
    };
    // GetSessionToken must be called with long-term IAM user keys; stored temporary keys (with a
    // session token) are handed out as they are (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html).
    if (stored.sessionToken) return { kind: "aws", provider: provider.id, credentials: stored, region: "us-east-1", expires_at: null };
    const endpoints = resolveEndpoints(provider, credential, deps.env.endpointOverrides);
    const sts = new STSClient({
      region: "us-east-1",
      maxAttempts: 2,
      credentials: { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey },
      ...(endpoints.sts_endpoint ? { endpoint: endpoints.sts_endpoint } : {}),
    });
    try {
      // One hour: the pipeline never holds the long-term key (900 s is the minimum, 43,200 s the default).
      const out = await sts.send(new GetSessionTokenCommand({ DurationSeconds: 3600 }), {
        abortSignal: AbortSignal.timeout(deps.env.CONNECTION_TEST_TIMEOUT_MS),
      });
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("GetSessionToken returned no credentials");
      return {
        kind: "aws",
        provider: provider.id,
        credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
        region: "us-east-1",
        expires_at: c.Expiration.toISOString(),
      };
    } finally {
      sts.destroy();
    }
  },
  aws_assume_role: async ({ provider, credential, org, deps }) => {
    const endpoints = resolveEndpoints(provider, credential, deps.env.endpointOverrides);
    const orgRecord = await deps.auth.getOrg(org);
    if (!orgRecord) throw new AppError("org_not_found", `Organization '${org}' was not found.`);
    const sts = new STSClient({ region: "us-east-1", maxAttempts: 2, ...(endpoints.sts_endpoint ? { endpoint: endpoints.sts_endpoint } : {}) });
    try {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: str(credential, "role_arn"),
          RoleSessionName: `finops-pipeline-${org}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64),
          ExternalId: orgRecord.externalId,
          DurationSeconds: 3600,
        }),
        { abortSignal: AbortSignal.timeout(deps.env.CONNECTION_TEST_TIMEOUT_MS) },
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("AssumeRole returned no credentials");
      return {
        kind: "aws",
        provider: provider.id,
        credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
        region: str(credential, "region") || "us-east-1",
        expires_at: c.Expiration.toISOString(),
      };
    } finally {
      sts.destroy();
    }
  },
  gcp_service_account: async ({ provider, credential, deps }) => {
    const endpoints = resolveEndpoints(provider, credential, deps.env.endpointOverrides);
    const sa = credential.service_account_json as Record<string, string>;
    const ctx = { timeoutMs: deps.env.CONNECTION_TEST_TIMEOUT_MS, fetch: deps.fetch } as ConnectionTestContext;
    const jwt = new JWT({
      email: sa.client_email,
      key: sa.private_key,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      // Never the key file's token_uri: the pinned token endpoint only.
      transporter: pinnedTransporter(ctx, new URL(endpoints.token_url || GOOGLE_TOKEN_URL), { sent: false, refused: false }),
    });
    const r = await jwt.authorize();
    if (!r.access_token) throw new Error("Google returned no access token");
    return {
      kind: "google_access_token",
      provider: provider.id,
      access_token: r.access_token,
      project_id: sa.project_id ?? "",
      expires_at: new Date(r.expiry_date ?? deps.now() + 3_300_000).toISOString(),
    };
  },
  // The scope the connection test proved: ARM's audience for the configured management base.
  azure_service_principal: azureToken((endpoints) => armScopeFor(endpoints.management_base || "https://management.azure.com")),
  // The same token logic as the connection test (v1 scope, Cognitive Services fallback, proven on
  // /openai/v1/models), so the pipeline gets a token for the scope the resource accepted.
  azure_openai: async ({ provider, credential, org, deps }) => {
    const ctx = pipelineContext(provider, credential, org, deps);
    const spn = azureSpnOf(credential);
    if (!spn) throw new Error("incomplete service principal");
    const { base } = azureOpenAIBase(ctx);
    const access = await azureOpenAIAccess(ctx, spn, base);
    if (!access.ok || access.listModels.outcome !== "ok") throw new Error("Azure OpenAI refused the token");
    return {
      kind: "azure_access_token",
      provider: provider.id,
      access_token: access.token,
      scope: access.scope,
      endpoint: base,
      expires_at: new Date(access.expiresOnTimestamp ?? deps.now() + 3_300_000).toISOString(),
    };
  },
  oci_api_key: async ({ provider, credential }) => {
    const key = loadOciPrivateKey(str(credential, "private_key"), str(credential, "passphrase") || undefined);
    return {
      kind: "oci_request_signing",
      provider: provider.id,
      key_id: `${str(credential, "tenancy_ocid")}/${str(credential, "user_ocid")}/${str(credential, "fingerprint")}`,
      private_key_pem: key.export({ type: "pkcs8", format: "pem" }).toString(),
      region: str(credential, "region"),
      tenancy_ocid: str(credential, "tenancy_ocid"),
      expires_at: null,
    };
  },
};

/** Renew this long before a token or temporary credential expires. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

interface AuthEntry {
  version: number;
  value: PipelineAuth;
  expiresAt: number;
}

const GLOBAL_KEY = Symbol.for("credential-manager.auth-cache");
type G = typeof globalThis & { [GLOBAL_KEY]?: { entries: Map<string, AuthEntry>; inflight: Map<string, Promise<PipelineAuth>> } };
function authCache() {
  const g = globalThis as G;
  g[GLOBAL_KEY] ??= { entries: new Map(), inflight: new Map() };
  return g[GLOBAL_KEY];
}

/**
 * For the cost pipelines: what they need to call the provider (temporary AWS credentials from
 * AssumeRole, a Google or Azure access token, OCI signing material, the GenAI API key), from the
 * decrypted credential (5-minute cache). Each result is cached no longer than its own expiry
 * (minus a margin) nor than the credential cache's TTL, and is keyed by the credential's version,
 * so a replaced credential is never served from an older authentication. Failures are not cached.
 */
export async function authenticate(org: string, providerId: string, deps: CoreDeps = getDeps()): Promise<PipelineAuth> {
  const provider = resolveProviderOrThrow(deps, providerId);
  const runtime = await getCredential(org, provider.id, deps);
  if (runtime.status !== "active") {
    throw new AppError("connection_test_failed", `${provider.name} for ${org} is ${runtime.status}; validate or replace it before the pipeline can use it.`);
  }
  const cache = authCache();
  const key = `${org}\u0000${provider.id}\u0000${runtime.version}`;
  const now = deps.now();
  const hit = cache.entries.get(key);
  if (hit && hit.expiresAt > now) return hit.value;
  const running = cache.inflight.get(key);
  if (running) return running;
  const promise = (async () => {
    try {
      let value: PipelineAuth;
      try {
        value = await AUTHENTICATORS[provider.connection_test.kind]({ provider, credential: { ...runtime.credential }, org, deps });
      } catch (e) {
        if (e instanceof AppError) throw e;
        // SDK errors can carry provider text; the pipeline gets a fixed message (validate gives the details).
        throw new AppError("provider_unreachable", `Could not authenticate to ${provider.name} for ${org}; run validate for details.`);
      }
      const ttlCap = now + deps.env.CREDENTIAL_CACHE_TTL_MS;
      const expiry = value.expires_at ? Date.parse(value.expires_at) - EXPIRY_MARGIN_MS : ttlCap;
      const expiresAt = Math.min(expiry, ttlCap);
      if (expiresAt > deps.now()) {
        for (const k of cache.entries.keys()) if (k.startsWith(`${org}\u0000${provider.id}\u0000`)) cache.entries.delete(k);
        cache.entries.set(key, { version: runtime.version, value: Object.freeze(value), expiresAt });
      }
      return value;
    } finally {
      cache.inflight.delete(key);
    }
  })();
  cache.inflight.set(key, promise);
  return promise;
}

/** Forget cached authentications (tests; rotation of the platform's own identity). */
export function clearAuthenticationCache(): void {
  authCache().entries.clear();
}
