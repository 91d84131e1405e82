import "server-only";
import { AppError } from "../errors";
import type { Actor } from "../auth/actor";
import { CipherError } from "../kms/cipher";
import { StoreConflictError, StoreUnavailableError, type CredentialRow, type CredentialSummary } from "../storage/store";
import type { CoreDeps } from "../deps";
import { resolveProvider, type ResolvedProvider } from "./registry";
import { buildCredentialSchema, buildMetadataSchema, issuesToFields, IntegrationSchema, type Integration } from "./schemas";

/** Shared steps of the use cases. Each use case file composes these; none is a use case itself. */

export function resolveProviderOrThrow(deps: CoreDeps, providerId: string): ResolvedProvider {
  const p = resolveProvider(providerId, deps.registry);
  if (!p) {
    const shown = /^[a-z0-9_-]{1,64}$/.test(providerId) ? providerId : "?";
    throw new AppError("unknown_provider", `Unknown provider '${shown}'. GET /providers lists the supported ones (manual SaaS vendors are saas_<vendor>).`);
  }
  return p;
}

/** Format check: a strict, provider-specific schema. Never quotes the input back. */
export function parseCredentialOrThrow(provider: ResolvedProvider, input: unknown): Record<string, unknown> {
  const parsed = buildCredentialSchema(provider).safeParse(input);
  if (parsed.success) return parsed.data;
  const fields = prefixFields(issuesToFields(parsed.error), "credential");
  const unknown = parsed.error.issues.some((i) => i.code === "unrecognized_keys");
  if (unknown) {
    throw new AppError("invalid_request", `The credential has fields ${provider.name} does not use: ${Object.keys(fields).join(", ")}.`, { fields });
  }
  const names = Object.keys(fields);
  throw new AppError(
    "invalid_format",
    `The ${provider.name} credential is not valid: ${names.map((n) => `${n.replace(/^credential\./, "")} ${fields[n]}`).join("; ")}.`,
    { fields },
  );
}

export function parseMetadataOrThrow(provider: ResolvedProvider, input: unknown): Record<string, unknown> {
  const parsed = buildMetadataSchema(provider).safeParse(input);
  if (parsed.success) return dropUndefined(parsed.data);
  const fields = prefixFields(issuesToFields(parsed.error), "metadata");
  throw new AppError(
    "invalid_metadata",
    `The metadata is not valid for ${provider.name}: ${Object.entries(fields)
      .map(([k, v]) => `${k.replace(/^metadata\./, "")} ${v}`)
      .join("; ")}.`,
    { fields },
  );
}

function prefixFields(fields: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k === "(body)" ? prefix : `${prefix}.${k}`] = v;
  return out;
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * What a connection test or a pipeline authentication for `org` gets from the deps: the test
 * timeout, the endpoint overrides, fetch, the clock and the org's AWS external ID (setup,
 * validate, the smoke test and authenticate all build their protocol context from this).
 */
export function protocolOptions(deps: CoreDeps, org: string, externalId: string) {
  return { timeoutMs: deps.env.CONNECTION_TEST_TIMEOUT_MS, overrides: deps.env.endpointOverrides, fetch: deps.fetch, now: deps.now, org, externalId };
}

/** The per-org budget for setup and validate; operator jobs (the CLI) are paced by the provider limits instead. */
export async function takeRateLimitOrThrow(deps: CoreDeps, org: string, actor?: Actor | null): Promise<void> {
  if (actor?.kind === "system") return;
  const wait = await deps.rateLimiter.take(org, deps.now());
  if (wait > 0) {
    throw new AppError("rate_limited", `Too many setup and validate calls for this organization; try again in ${wait} s.`, { retryAfterS: wait });
  }
}

/** Store calls: unavailability becomes 503, a lost race becomes 409; nothing else is swallowed. */
export async function withStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StoreConflictError) throw new AppError("conflict", "A concurrent change to this integration won; nothing was changed by this request. Retry.");
    if (e instanceof StoreUnavailableError) throw new AppError("storage_unavailable", "The credential store is unavailable; nothing was changed. Try again shortly.");
    throw e;
  }
}

export async function withCipher<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CipherError) {
      if (e.code === "decrypt_failed") {
        throw new AppError(
          "encryption_unavailable",
          "The stored credential could not be decrypted (it was altered, moved, or its key version was retired). Nothing was changed; set the credential up again.",
        );
      }
      throw new AppError("encryption_unavailable", "The key service is unavailable; nothing was changed. Try again shortly.");
    }
    throw e;
  }
}

/** A stored row as the API shows it: parsed through the output schema, so nothing undeclared leaks. */
export function presentIntegration(deps: CoreDeps, row: CredentialRow): Integration {
  return IntegrationSchema.parse(integrationView(deps, row));
}

/**
 * The API's integration object for a stored row, field by field (nothing else is copied), not yet
 * parsed: a list parses its whole output once (lib/integrations/list-integrations.ts).
 */
export function integrationView(deps: CoreDeps, row: CredentialSummary): Integration {
  const provider = resolveProvider(row.provider, deps.registry);
  return {
    org: row.org,
    provider: row.provider,
    name: provider?.name ?? row.provider,
    category: provider?.category ?? "saas",
    credential_type: provider?.credential_type ?? "unknown",
    status: row.status,
    fingerprint: row.fingerprint,
    version: row.version,
    key_kind: row.keyKind,
    account: row.account ? { id: String(row.account.id), name: row.account.name ?? null } : null,
    metadata: row.metadata,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    last_validated_at: row.lastValidatedAt,
    last_error: row.lastError,
  };
}

export function getRowOrThrow(row: CredentialRow | null, provider: ResolvedProvider): CredentialRow {
  if (!row) throw new AppError("integration_not_found", `${provider.name} is not connected for this organization.`);
  return row;
}
