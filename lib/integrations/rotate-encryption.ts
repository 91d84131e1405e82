import "server-only";
import type { Actor } from "../auth/actor";
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

/**
 * Re-encrypt every stored credential under the key service's current primary version
 * (`kms rotate`). Row by row: decrypt in memory, encrypt with the same AAD, write the new
 * ciphertext only if the row's version did not move. Plaintext never leaves the process. A crash
 * leaves each row either old or new, both decryptable, so running it again resumes where it stopped.
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
  for (const [i, row] of rows.entries()) {
    args.onProgress?.(i, rows.length, row);
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
    } catch (e) {
      if (e instanceof StoreConflictError) report.skipped_changed++;
      else report.failed.push({ org: row.org, provider: row.provider, code: e instanceof AppError ? e.code : "internal" });
    }
  }
  args.onProgress?.(rows.length, rows.length, { org: "", provider: "" });
  return report;
}
