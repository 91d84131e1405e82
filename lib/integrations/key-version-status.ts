import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { storedRows } from "../storage/paging";
import { getDeps, type CoreDeps } from "../deps";
import { withCipher, withStore } from "./common";

export interface KeyVersionStatus {
  backend: CoreDeps["cipher"]["backend"];
  primary: string;
  /** Each key version that encrypts at least one stored credential. */
  versions: Array<{ key_version: string; credentials: number; primary: boolean }>;
}

/** How many stored credentials each key version encrypts (`kms status`, and `kms retire`'s check). */
export async function keyVersionStatus(args: { actor: Actor }, deps: CoreDeps = getDeps()): Promise<KeyVersionStatus> {
  if (args.actor.kind !== "system") throw new AppError("forbidden", "Key management is an operator task (CLI only).");
  const counts = new Map<string, number>();
  for await (const row of storedRows(deps.store, { pageSize: 500, read: withStore })) {
    counts.set(row.keyVersion, (counts.get(row.keyVersion) ?? 0) + 1);
  }
  const primary = await withCipher(() => deps.cipher.primaryKeyVersion());
  const versions = [...counts.entries()].map(([key_version, credentials]) => ({ key_version, credentials, primary: key_version === primary }));
  return { backend: deps.cipher.backend, primary, versions };
}
