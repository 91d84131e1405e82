import "server-only";
import path from "node:path";
import type { Logger } from "pino";
import { getEnv, type Env } from "../env";
import { getLogger } from "../log";
import { AttemptLimits, SIGN_IN_WINDOWS } from "../auth/attempt-limits";
import { InProcessSignInFailures } from "../auth/sign-in-failures";
import { PostgresSignInFailures } from "../auth/sign-in-failures-postgres";
import type { AuthStore } from "../auth/auth-store";
import { PostgresAuthStore } from "../auth/auth-store-postgres";
import { SqliteAuthStore } from "../auth/auth-store-sqlite";
import type { MembershipLookup } from "../auth/authorize";
import { accountMemberships } from "../auth/memberships";
import { sharedAuthPool } from "../auth/pg-pool";
import { createCipher } from "../kms";
import type { Cipher } from "../kms/cipher";
import { loadOrCreatePepper } from "../kms/fingerprint";
import { createCredentialStore } from "../storage";
import type { CredentialStore } from "../storage/store";
import { getRegistry, type Registry } from "../integrations/registry";
import { CredentialCache } from "../integrations/runtime";
import { createWebhookStore } from "../webhooks/create-webhook-store";
import { orgAdminEmailsFor } from "../webhooks/admin-emails";
import type { WebhookStore } from "../webhooks/webhook-store";
import { createMailQueue } from "../mail/create-mail-queue";
import type { MailQueue } from "../mail/mail-queue";
import { createAuditBackend } from "../audit/backend";
import type { AuditBackend } from "../audit/record-audit";
import type { RateLimiter } from "../rate-limit";
import { AUDIT_EXPORTS_PER_MINUTE } from "../audit/events";
import { cacheSyncFor, sharedLimiter } from "../integrations/cluster";
import type { PostgresCacheInvalidation } from "../integrations/cache-invalidation-postgres";

/*
 * The composition root: the one place that knows every backend (key service, stores, accounts,
 * audit, webhooks, the mail queue, limiters) and wires them for the configuration in lib/env.ts. The core's use
 * cases take `deps` as an argument (tests pass their own, tests/support/core-deps.ts); transports
 * that pass none get the process-wide set from getDeps(). docs/architecture.md, "The ports".
 */

/** Everything the core needs, passed in explicitly so tests can swap any piece. */
export interface CoreDeps {
  env: Env;
  registry: Registry;
  cipher: Cipher;
  store: CredentialStore;
  auth: AuthStore;
  memberships: MembershipLookup;
  pepper: Buffer;
  log: Logger;
  now: () => number;
  fetch: typeof fetch;
  cache: CredentialCache;
  rateLimiter: RateLimiter;
  /** Keeps connection tests within each provider's documented rate (limits come from the registry). */
  providerLimiter: RateLimiter;
  /** Webhook endpoints and their durable delivery queue (lib/webhooks), in the auth database. */
  webhooks: WebhookStore;
  /** Emails of an org's owners and admins, for notification mail. */
  orgAdminEmails: (org: string) => Promise<string[]>;
  /** The durable queue of notification mail (lib/mail/mail-queue.ts), in the auth database. */
  mailQueue: MailQueue;
  /** The audit trail (table audit_events in the auth database) and its chain key. */
  audit: AuditBackend;
  /** Per pipeline key: `POST …/access` calls (ACCESS_RATE_LIMIT_PER_MINUTE). */
  accessLimiter: RateLimiter;
  /** Per org: Activity CSV exports (lib/audit/export-csv.ts, AUDIT_EXPORTS_PER_MINUTE). */
  auditExportLimiter: RateLimiter;
  /** With AUTH_DATABASE_URL: tells the other instances about this one's cache invalidations (lib/integrations/cluster.ts). */
  cacheSync: PostgresCacheInvalidation | null;
  /** Sign-in failure backoff, sign-up and mail budgets (lib/auth/attempt-limits.ts): in process, or in Postgres with AUTH_DATABASE_URL. */
  attempts: AttemptLimits;
}

export function createDeps(env: Env, overrides: Partial<CoreDeps> = {}): CoreDeps {
  const now = overrides.now ?? Date.now;
  const log = overrides.log ?? getLogger();
  const cache = overrides.cache ?? new CredentialCache({ ttlMs: env.CREDENTIAL_CACHE_TTL_MS, maxEntries: env.CREDENTIAL_CACHE_MAX_ENTRIES, now });
  return {
    env,
    registry: overrides.registry ?? getRegistry(),
    cipher:
      overrides.cipher ??
      createCipher({ backend: env.KMS_BACKEND, dataDir: env.dataDir, gcpKeyName: env.GCP_KMS_KEY, gcpEndpoint: env.GCP_KMS_ENDPOINT }),
    store:
      overrides.store ??
      createCredentialStore({
        backend: env.CREDENTIAL_STORE,
        dataDir: env.dataDir,
        bigquery: { projectId: env.BIGQUERY_PROJECT, dataset: env.BIGQUERY_DATASET, location: env.BIGQUERY_LOCATION, apiEndpoint: env.BIGQUERY_API_ENDPOINT },
      }),
    // Orgs and API keys live with Better Auth's tables: in Postgres (the same pool) when
    // AUTH_DATABASE_URL is set, else in DATA_DIR/auth.sqlite.
    auth:
      overrides.auth ??
      (env.AUTH_DATABASE_URL ? new PostgresAuthStore(sharedAuthPool(env.AUTH_DATABASE_URL)) : new SqliteAuthStore(path.join(env.dataDir, "auth.sqlite"))),
    memberships: overrides.memberships ?? accountMemberships(env),
    pepper: overrides.pepper ?? loadOrCreatePepper(env.dataDir, env.FINGERPRINT_PEPPER),
    log,
    now,
    fetch: overrides.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args)),
    cache,
    cacheSync: overrides.cacheSync !== undefined ? overrides.cacheSync : cacheSyncFor(env, cache, log),
    rateLimiter: overrides.rateLimiter ?? sharedLimiter(env, "org", env.ORG_RATE_LIMIT_PER_MINUTE),
    providerLimiter: overrides.providerLimiter ?? sharedLimiter(env, "provider", 60),
    webhooks: overrides.webhooks ?? createWebhookStore(env),
    orgAdminEmails: overrides.orgAdminEmails ?? orgAdminEmailsFor(env),
    mailQueue: overrides.mailQueue ?? createMailQueue(env),
    audit: overrides.audit ?? createAuditBackend(env),
    accessLimiter: overrides.accessLimiter ?? sharedLimiter(env, "access", env.ACCESS_RATE_LIMIT_PER_MINUTE),
    auditExportLimiter: overrides.auditExportLimiter ?? sharedLimiter(env, "audit-export", AUDIT_EXPORTS_PER_MINUTE),
    attempts: overrides.attempts ?? attemptLimitsFor(env),
  };
}

/** The accounts' attempt budgets, where the other budgets are: in process, or in the auth database's Postgres. */
function attemptLimitsFor(env: Env): AttemptLimits {
  const failures = env.AUTH_DATABASE_URL
    ? new PostgresSignInFailures(sharedAuthPool(env.AUTH_DATABASE_URL), SIGN_IN_WINDOWS)
    : new InProcessSignInFailures(SIGN_IN_WINDOWS);
  return new AttemptLimits(failures, (scope, limit, windowMs) => sharedLimiter(env, scope, limit, windowMs));
}

// Next may load route modules in separate module graphs; a global keeps one set of connections
// and one decrypt cache per process, so an invalidation by setup reaches every reader.
const GLOBAL_KEY = Symbol.for("credential-manager.deps");
type GlobalWithDeps = typeof globalThis & { [GLOBAL_KEY]?: CoreDeps };

/** The process-wide dependencies, created on first use. */
export function getDeps(): CoreDeps {
  const g = globalThis as GlobalWithDeps;
  g[GLOBAL_KEY] ??= createDeps(getEnv());
  return g[GLOBAL_KEY];
}

/** Replace the process-wide dependencies (tests, and the accounts layer providing memberships). */
export function setDeps(deps: CoreDeps | undefined): void {
  (globalThis as GlobalWithDeps)[GLOBAL_KEY] = deps;
}
