import "server-only";
import crypto from "node:crypto";
import type { Actor } from "../auth/actor";
import { recordAuditBatch, type AuditInput } from "../audit/record-audit";
import { AppError } from "../errors";
import { storedRows } from "../storage/paging";
import { StoreConflictError, type CredentialRow } from "../storage/store";
import { getDeps, type CoreDeps } from "../deps";
import { withCipher, withStore } from "./common";

export interface RotationReport {
  primary: string;
  total: number;
  rotated: number;
  already_current: number;
  /** Replaced or deleted while we worked: the new row is already under the primary key. */
  skipped_changed: number;
  failed: Array<{ org: string; provider: string; code: string }>;
  dry_run: boolean;
}

/** Audit events are written per org, in batches of at most this many (one transaction each). */
const AUDIT_BATCH = 100;

/**
 * Re-encrypt every stored credential under the key service's current primary version
 * (`kms rotate`). Row by row: decrypt in memory, encrypt with the same AAD, write the new
 * ciphertext only if the row's version did not move. Plaintext never leaves the process. A crash
 * leaves each row either old or new, both decryptable, so running it again resumes where it stopped.
 *
 * Audited: one credential.rekey event per credential re-encrypted or failed (provider, the key
 * versions from → to as target, outcome; the fingerprint on both sides, since it is the
 * plaintext's and re-encryption does not change the plaintext), all with one request id per run.
 * Rows come in (org, provider) order, so the events are written per org in batches of
 * AUDIT_BATCH, one transaction each, after the rows they record. A crash can lose the events of
 * the last unwritten batch (at most AUDIT_BATCH rows): those rows are then already current and a
 * second run does not record them again. A dry run, rows already current and rows changed
 * meanwhile (whose change has its own event) record nothing.
 */
export async function rotateEncryption(
  args: { actor: Actor; dryRun?: boolean; onProgress?: (done: number, total: number, row: { org: string; provider: string }) => void },
  deps: CoreDeps = getDeps(),
): Promise<RotationReport> {
  if (args.actor.kind !== "system") throw new AppError("forbidden", "Key rotation is an operator task (CLI only).");
  const primary = await withCipher(() => deps.cipher.primaryKeyVersion());
  const rows: CredentialRow[] = [];
  for await (const row of storedRows(deps.store, { read: withStore })) rows.push(row);
  const report: RotationReport = { primary, total: rows.length, rotated: 0, already_current: 0, skipped_changed: 0, failed: [], dry_run: !!args.dryRun };
  const requestId = crypto.randomUUID();
  let pending: AuditInput[] = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    await recordAuditBatch(deps, batch);
  };
  const audit = (row: CredentialRow, outcome: string, to: string) =>
    pending.push({ actor: args.actor, org: row.org, action: "credential.rekey", provider: row.provider, fingerprint_before: row.fingerprint, fingerprint_after: row.fingerprint, outcome, target: `${row.keyVersion} → ${to}`, request_id: requestId });
  try {
    for (const [i, row] of rows.entries()) {
      args.onProgress?.(i, rows.length, row);
      if (pending.length > 0 && (pending[0]!.org !== row.org || pending.length >= AUDIT_BATCH)) await flush();
      if (row.keyVersion === primary) {
        report.already_current++;
        continue;
      }
      if (args.dryRun) {
        report.rotated++;
        continue;
      }
      const aad = { org: row.org, provider: row.provider, credentialId: row.credentialId };
      try {
        const { plaintext } = await withCipher(() => deps.cipher.decrypt(row.ciphertext, aad));
        let enc;
        try {
          enc = await withCipher(() => deps.cipher.encrypt(plaintext, aad));
        } finally {
          plaintext.fill(0);
        }
        // Guarded by the credential id too: a delete and a new setup in between restart at version 1.
        await deps.store.update(row.org, row.provider, row.version, { ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion }, { credentialId: row.credentialId });
        deps.cache.invalidate(row.org, row.provider);
        report.rotated++;
        audit(row, "ok", enc.keyVersion);
      } catch (e) {
        if (e instanceof StoreConflictError) {
          report.skipped_changed++;
        } else {
          const code = e instanceof AppError ? e.code : "internal";
          report.failed.push({ org: row.org, provider: row.provider, code });
          audit(row, code, primary);
        }
      }
    }
  } finally {
    await flush();
  }
  args.onProgress?.(rows.length, rows.length, { org: "", provider: "" });
  return report;
}
