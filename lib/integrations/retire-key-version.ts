import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { retireKeyVersion } from "../kms";
import { getDeps, type CoreDeps } from "../deps";
import { assertLocalKeyRingOperator } from "./add-key-version";
import { keyVersionStatus } from "./key-version-status";

/**
 * Remove an old local key version (`kms retire`), only once no stored credential uses it: a
 * credential still under it would stop decrypting.
 */
export async function retireLocalKeyVersion(args: { actor: Actor; version: string }, deps: CoreDeps = getDeps()): Promise<void> {
  assertLocalKeyRingOperator(args.actor, deps, "Retiring a key version");
  const using = (await keyVersionStatus(args, deps)).versions.find((v) => v.key_version === args.version)?.credentials ?? 0;
  if (using > 0) throw new AppError("conflict", `${using} credential(s) still use ${args.version}; run kms rotate first.`);
  await retireKeyVersion(deps.env.dataDir, args.version);
}
