import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { addKeyVersion } from "../kms";
import { getDeps, type CoreDeps } from "../deps";

/** Only the operator, and only on the local key ring (Cloud KMS versions are managed in Google Cloud). */
export function assertLocalKeyRingOperator(actor: Actor, deps: CoreDeps, what: string): void {
  if (actor.kind !== "system") throw new AppError("forbidden", "Key management is an operator task (CLI only).");
  if (deps.cipher.backend !== "local") throw new AppError("invalid_request", `${what} is for the local key ring; manage Cloud KMS key versions in Google Cloud.`);
}

/** Add a local key version and make it primary (`kms rotate --new-key`); returns its id. */
export async function addLocalKeyVersion(args: { actor: Actor }, deps: CoreDeps = getDeps()): Promise<string> {
  assertLocalKeyRingOperator(args.actor, deps, "Adding a key version");
  return await addKeyVersion(deps.env.dataDir);
}
