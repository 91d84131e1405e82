import "server-only";
import crypto from "node:crypto";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { AppError } from "../errors";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import type { CredentialRow } from "../storage/store";
import { assertTestPassedOrThrow, runConnectionTest, statusForOutcome } from "./protocols";
import type { ConnectionTestResult } from "./protocols/types";
import { getDeps, type CoreDeps } from "../deps";
import { notifyIntegrationEvent } from "../webhooks/notify-integration-event";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { resolveProvider } from "./registry";
import {
  parseCredentialOrThrow,
  parseMetadataOrThrow,
  presentIntegration,
  resolveProviderOrThrow,
  takeRateLimitOrThrow,
  withCipher,
  withStore,
  protocolOptions,
} from "./common";
import { SetupBodySchema, credentialWarnings, issuesToFields, type Integration } from "./schemas";

export interface SetupResult {
  created: boolean;
  integration: Integration;
  connection_test: ConnectionTestResult;
  warnings: Record<string, string>;
}

/** Step names, in order, for progress reporting by the UI. */
export const SETUP_STEPS = ["format", "connection_test", "encryption", "stored"] as const;
export type SetupStep = (typeof SETUP_STEPS)[number];

/**
 * Set up (or replace) an org's credential for a provider: format check → connection test →
 * encrypt → store. Nothing is stored unless every step passes, so a failure at any step leaves
 * the existing credential exactly as it was. Audited: integration.setup or .replace, with the
 * fingerprints before and after, whatever the outcome (lib/audit).
 */
export async function setupIntegration(
  args: { actor: Actor | null; org: string; provider: string; input: unknown; onStep?: (step: SetupStep) => void },
  deps: CoreDeps = getDeps(),
): Promise<SetupResult> {
  const note: { before?: string | null } = {};
  const audit = { actor: args.actor, org: args.org, provider: resolveProvider(args.provider, deps.registry)?.id ?? null };
  try {
    const r = await setupUnaudited(args, deps, note);
    const action = r.created ? "integration.setup" : "integration.replace";
    await recordAudit(deps, { ...audit, action, fingerprint_before: note.before ?? null, fingerprint_after: r.integration.fingerprint, outcome: "ok" });
    return r;
  } catch (e) {
    const action = note.before ? "integration.replace" : "integration.setup";
    await recordAuditFailure(deps, { ...audit, action, fingerprint_before: note.before ?? null }, e);
    throw e;
  }
}

async function setupUnaudited(
  args: { actor: Actor | null; org: string; provider: string; input: unknown; onStep?: (step: SetupStep) => void },
  deps: CoreDeps,
  note: { before?: string | null },
): Promise<SetupResult> {
  const { actor, org } = args;
  const orgRecord = await authorizeOrgOrThrow(deps, actor, org, "write");
  const provider = resolveProviderOrThrow(deps, args.provider);

  const body = SetupBodySchema.safeParse(args.input);
  if (!body.success) {
    throw new AppError("invalid_request", 'The body must be {"credential": {…}, "metadata": {…}} with no other fields.', {
      fields: issuesToFields(body.error),
    });
  }
  const credential = parseCredentialOrThrow(provider, body.data.credential);
  const metadataInput = body.data.metadata === undefined ? undefined : parseMetadataOrThrow(provider, body.data.metadata);
  const fingerprint = fingerprintOf(canonicalize(credential), deps.pepper);
  const warnings = credentialWarnings(provider, credential);
  args.onStep?.("format");

  await takeRateLimitOrThrow(deps, org, actor);
  const existing = await withStore(() => deps.store.get(org, provider.id));
  note.before = existing?.fingerprint ?? null;

  let test: ConnectionTestResult;
  try {
    test = await runConnectionTest(provider, credential, {
      ...protocolOptions(deps, org, orgRecord.externalId),
      limiter: deps.providerLimiter,
      fingerprint,
      metadata: metadataInput ?? existing?.metadata ?? {},
    });
    assertTestPassedOrThrow(test, provider.name);
  } catch (e) {
    if (e instanceof AppError) e.extra.fingerprint = fingerprint;
    throw e;
  }
  args.onStep?.("connection_test");

  const credentialId = crypto.randomUUID();
  const plaintext = Buffer.from(JSON.stringify(credential), "utf8");
  let encrypted;
  try {
    encrypted = await withCipher(() => deps.cipher.encrypt(plaintext, { org, provider: provider.id, credentialId }));
  } finally {
    plaintext.fill(0);
  }
  args.onStep?.("encryption");

  const at = new Date(deps.now()).toISOString();
  const row: CredentialRow = {
    org,
    provider: provider.id,
    credentialId,
    ciphertext: encrypted.ciphertext,
    keyRef: encrypted.keyRef,
    keyVersion: encrypted.keyVersion,
    fingerprint,
    status: statusForOutcome(test.outcome) ?? "pending",
    keyKind: test.key_kind,
    metadata: metadataInput ?? existing?.metadata ?? {},
    account: test.account,
    version: (existing?.version ?? 0) + 1,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
    lastValidatedAt: test.outcome === "skipped" ? null : at,
    lastError: null,
  };
  const stored = await withStore(() => deps.store.put(row, existing?.version ?? null));
  deps.cache.invalidate(org, provider.id);
  args.onStep?.("stored");
  // Presented (and schema-parsed) once, for the event and the answer alike.
  const integration = presentIntegration(deps, stored);
  await notifyIntegrationEvent(deps, { type: existing ? "integration.replaced" : "integration.created", integration, previousFingerprint: existing?.fingerprint ?? null });

  return { created: !existing, integration, connection_test: test, warnings: { ...warnings, ...test.warnings } };
}
