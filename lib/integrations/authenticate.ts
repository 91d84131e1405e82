import "server-only";
import { AppError } from "../errors";
import { getDeps, type CoreDeps } from "../deps";
import { protocolOptions, resolveProviderOrThrow } from "./common";
import { getCredential } from "./get-credential";
import { runAuthenticate } from "./protocols";
import type { PipelineAuth } from "./protocols/types";

export type { PipelineAuth } from "./protocols/types";

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
 * (minus a margin) nor than the credential cache's TTL, and is keyed by the stored row's id and
 * version, so a replaced (or deleted and set up again) credential is never served from an older
 * authentication. Failures are not cached.
 */
export async function authenticate(org: string, providerId: string, deps: CoreDeps = getDeps()): Promise<PipelineAuth> {
  const provider = resolveProviderOrThrow(deps, providerId);
  const runtime = await getCredential(org, provider.id, deps);
  if (runtime.status !== "active") {
    throw new AppError("connection_test_failed", `${provider.name} for ${org} is ${runtime.status}; validate or replace it before the pipeline can use it.`);
  }
  const cache = authCache();
  // The row's id as well as its version: after a delete, the next setup starts again at version 1.
  const key = `${org}\u0000${provider.id}\u0000${runtime.credentialId}\u0000${runtime.version}`;
  const now = deps.now();
  const hit = cache.entries.get(key);
  if (hit && hit.expiresAt > now) return hit.value;
  const running = cache.inflight.get(key);
  if (running) return running;
  const promise = (async () => {
    try {
      let value: PipelineAuth;
      try {
        // The protocol's own authenticate(), from the context its connection test gets: the same
        // endpoints, canonical credential, org external ID and metadata (lib/integrations/protocols/),
        // and paced on the same per-org provider budget (a spent one is `rate_limited`, nothing sent).
        const orgRecord = await deps.auth.getOrg(org);
        if (!orgRecord) throw new AppError("org_not_found", `Organization '${org}' was not found.`);
        value = await runAuthenticate(provider, { ...runtime.credential }, {
          ...protocolOptions(deps, org, orgRecord.externalId),
          metadata: runtime.metadata ?? {},
          limiter: deps.providerLimiter,
          fingerprint: runtime.fingerprint,
        });
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
