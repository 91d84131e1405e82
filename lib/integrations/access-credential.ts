import "server-only";
import type { Actor } from "../auth/actor";
import { authorizePipelineAccessOrThrow } from "../auth/authorize";
import { recordAuditFailure, recordAuditOrThrow } from "../audit/record-audit";
import { AppError } from "../errors";
import type { AccessResponse } from "./access-schema";
import { authenticate, type PipelineAuth } from "./authenticate";
import { resolveProviderOrThrow } from "./common";
import { getDeps, type CoreDeps } from "../deps";
import { getCredential } from "./get-credential";

/**
 * `POST /integrations/{org}/{provider}/access`, for pipelines in any language: what
 * `authenticate()` gives in-process code (short-lived AWS, Google and Azure credentials with their
 * expiry; the stored key where nothing shorter-lived exists), to a `pipeline` key of the org only,
 * within the key's budget, for an active integration only; every call audited with the fingerprint.
 * Results come from authenticate()'s cache, so repeated calls within an expiry reach no provider.
 */
export async function accessCredential(
  args: { actor: Actor | null; org: string; provider: string; requestId?: string; clientIp?: string | null },
  deps: CoreDeps = getDeps(),
): Promise<AccessResponse> {
  const { actor, org } = args;
  await authorizePipelineAccessOrThrow(deps, actor, org);
  const provider = resolveProviderOrThrow(deps, args.provider);
  let fingerprint: string | null = null;
  let audited = false;
  try {
    // Per key: a leaked pipeline key cannot turn into a flood of token requests to the provider.
    const keyId = actor?.kind === "api_key" ? actor.keyId : "-";
    const wait = await deps.accessLimiter.take(`access\u0000${keyId}`, deps.now(), deps.env.ACCESS_RATE_LIMIT_PER_MINUTE);
    if (wait > 0) {
      throw new AppError("rate_limited", `This pipeline key made more than ${deps.env.ACCESS_RATE_LIMIT_PER_MINUTE} access calls this minute; try again in ${wait} s.`, {
        retryAfterS: wait,
      });
    }
    const runtime = await getCredential(org, provider.id, deps);
    fingerprint = runtime.fingerprint;
    if (runtime.status !== "active") {
      // Only a credential the provider last accepted is handed out (docs/api.md, …/access).
      throw new AppError("integration_not_found", `${provider.name} has no active credential for organization ${org} (it is ${runtime.status}); validate or replace it.`);
    }
    const auth = await authenticate(org, provider.id, deps);
    const result: AccessResponse = {
      org,
      provider: provider.id,
      fingerprint: runtime.fingerprint,
      version: runtime.version,
      kind: auth.kind,
      credentials: credentialsOf(auth),
      expires_at: auth.expires_at,
    };
    audited = true; // a failure to write the record is itself the error (not recorded twice)
    await audit(deps, args, provider.id, fingerprint, "ok");
    return result;
  } catch (e) {
    if (!audited) await audit(deps, args, provider.id, fingerprint, { error: e });
    throw e;
  }
}

/** The protocol's material without the envelope; AWS's in the snake_case of the rest of the API. */
function credentialsOf(auth: PipelineAuth): Record<string, unknown> {
  const { kind: _kind, provider: _provider, expires_at: _expires, ...rest } = auth;
  if (auth.kind === "aws") {
    const c = auth.credentials;
    return {
      access_key_id: c.accessKeyId,
      secret_access_key: c.secretAccessKey,
      ...(c.sessionToken ? { session_token: c.sessionToken } : {}),
      region: auth.region,
    };
  }
  if (auth.kind === "manual") return { ...auth.fields };
  return rest;
}

/**
 * integration.access, both fingerprints the credential's (docs/api.md, audit events). A handed-out
 * credential must have its record: success is written fail-closed (no record, no credential).
 */
async function audit(
  deps: CoreDeps,
  args: { actor: Actor | null; org: string; requestId?: string; clientIp?: string | null },
  provider: string,
  fingerprint: string | null,
  outcome: "ok" | { error: unknown },
): Promise<void> {
  const input = {
    actor: args.actor,
    org: args.org,
    action: "integration.access" as const,
    provider,
    fingerprint_before: fingerprint,
    fingerprint_after: fingerprint,
    ...(args.requestId ? { request_id: args.requestId } : {}),
    ...(args.clientIp !== undefined ? { client_ip: args.clientIp } : {}),
  };
  if (outcome === "ok") await recordAuditOrThrow(deps, { ...input, outcome: "ok" });
  else await recordAuditFailure(deps, input, outcome.error);
}
