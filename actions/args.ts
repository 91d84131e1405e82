import { z } from "zod";

/**
 * Zod schemas for the ids server actions take (the org slug is OrgSlugSchema). Actions parse
 * their arguments with them through runAction (./run.ts) before anything else runs.
 */

/** Better Auth ids (members, invitations): 8–128 URL-safe characters. */
export const AuthIdArg = z.string({ message: "must be a string id" }).regex(/^[A-Za-z0-9_-]{8,128}$/, { message: "is not a valid id" });
/** Org API key ids: 12 hex characters. */
export const KeyIdArg = z.string({ message: "must be a string id" }).regex(/^[0-9a-f]{12}$/, { message: "is not a valid key id" });
/** An invitation link's token: `<id>.<mac>` (lib/auth/invitation-links.ts). */
export const InvitationTokenArg = z
  .string({ message: "must be a string" })
  .max(200, { message: "is too long" })
  .regex(/^[A-Za-z0-9_-]{8,128}\.[A-Za-z0-9_-]{43}$/, { message: "is not an invitation link" });
