import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import type { CredentialPatch } from "../storage/store";
import { assertTestPassedOrThrow, firstFailure, runConnectionTest, statusForOutcome } from "./protocols";
import type { ConnectionTestResult } from "./protocols/types";
import { getDeps, type CoreDeps } from "../deps";
import { notifyIntegrationEvent } from "../webhooks/notify-integration-event";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { resolveProvider } from "./registry";
import { getRowOrThrow, presentIntegration, protocolOptions, resolveProviderOrThrow, takeRateLimitOrThrow, withCipher, withStore } from "./common";
import { decryptRow } from "./decrypt-row";
import type { Integration } from "./schemas";

export interface ValidateResult {
  integration: Integration;
  connection_test: ConnectionTestResult;
}

/**
 * Re-test the stored credential and record the verdict: active, invalid or expired. When the
 * provider gives no verdict (throttled, down, timed out) nothing is changed and the error says so.
 * Audited (integration.validate; the outcome is the connection test's, or the error's code).
 */
export async function validateIntegration(
  args: { actor: Actor | null; org: string; provider: string },
  deps: CoreDeps = getDeps(),
): Promise<ValidateResult> {
  const audit = { actor: args.actor, org: args.org, provider: resolveProvider(args.provider, deps.registry)?.id ?? null, action: "integration.validate" as const };
  try {
    const r = await validateUnaudited(args, deps);
    const fp = r.integration.fingerprint;
    await recordAudit(deps, { ...audit, fingerprint_before: fp, fingerprint_after: fp, outcome: r.connection_test.outcome });
    return r;
  } catch (e) {
    const fp = e instanceof AppError ? (e.extra.fingerprint ?? null) : null;
    await recordAuditFailure(deps, { ...audit, fingerprint_before: fp, fingerprint_after: fp }, e);
    throw e;
  }
}

async function validateUnaudited(args: { actor: Actor | null; org: string; provider: string }, deps: CoreDeps): Promise<ValidateResult> {
  const { actor, org } = args;
  const orgRecord = await authorizeOrgOrThrow(deps, actor, org, "write");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const row = getRowOrThrow(await withStore(() => deps.store.get(org, provider.id)), provider);
  await takeRateLimitOrThrow(deps, org, actor);

  const credential = await withCipher(() => decryptRow(deps, row));
  const test = await runConnectionTest(provider, credential, {
    ...protocolOptions(deps, org, orgRecord.externalId),
    limiter: deps.providerLimiter,
    fingerprint: row.fingerprint,
    metadata: row.metadata,
  });

  const status = statusForOutcome(test.outcome);
  if (status === null) {
    try {
      assertTestPassedOrThrow(test, provider.name);
    } catch (e) {
      if (e instanceof AppError) e.extra.fingerprint = row.fingerprint;
      throw e;
    }
  }
  const at = new Date(deps.now()).toISOString();
  const patch: CredentialPatch = {
    status: status ?? row.status,
    updatedAt: at,
    lastValidatedAt: test.outcome === "skipped" ? row.lastValidatedAt : at,
    lastError: status === "active" ? null : { code: test.outcome, message: firstFailure(test), at },
  };
  if (status === "active") {
    patch.account = test.account ?? row.account;
    patch.keyKind = test.key_kind ?? row.keyKind;
  }
  const updated = await withStore(() => deps.store.update(org, provider.id, row.version, patch, { credentialId: row.credentialId }));
  deps.cache.invalidate(org, provider.id);
  if (updated.status !== row.status) await notifyIntegrationEvent(deps, { type: "integration.status_changed", integration: presentIntegration(deps, updated), previousStatus: row.status, outcome: test.outcome, message: status === "active" ? "The connection test passed." : firstFailure(test) });
  return { integration: presentIntegration(deps, updated), connection_test: test };
}
