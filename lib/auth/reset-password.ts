import "server-only";
import { getDeps, type CoreDeps } from "../deps";
import { recordAccountEvent } from "../audit/record-account-event";
import { findUserById, getReadyAuth, withAuthErrors } from "./accounts";

/**
 * Set a new password with a reset link's token (single use; every session of the account ends:
 * revokeSessionsOnPasswordReset in lib/auth/accounts.ts). Audited: password.reset in each org the
 * account belongs to, so their owners and admins see a takeover by mail. A refused token (invalid,
 * expired, used) names no account and is not recorded.
 */
export async function resetAccountPassword(
  args: { token: string; newPassword: string; requestId?: string; clientIp?: string | null },
  deps: CoreDeps = getDeps(),
): Promise<void> {
  const auth = await getReadyAuth(deps.env);
  // Whose token it is, read before Better Auth consumes it (its answer is only {status}): the
  // token's verification row holds the user id, under identifier "reset-password:<token>"
  // (node_modules/better-auth/dist/api/routes/password.mjs, resetPassword).
  const verification = await (await auth.$context).internalAdapter.findVerificationValue(`reset-password:${args.token}`);
  await withAuthErrors(() => auth.api.resetPassword({ body: { newPassword: args.newPassword, token: args.token } }));
  const user = verification ? await findUserById(deps.env, verification.value) : null;
  if (user) await recordAccountEvent(deps, { user, action: "password.reset", outcome: "ok", requestId: args.requestId, clientIp: args.clientIp });
}
