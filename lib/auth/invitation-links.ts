import "server-only";
import crypto from "node:crypto";
import type { Env } from "../env";
import { loadOrCreateAuthSecret } from "./accounts";

/**
 * Invitation links: `/invite/<id>.<mac>`, where `mac` is an HMAC-SHA256 of the invitation id under
 * a key derived from the session-signing secret (BETTER_AUTH_SECRET, or DATA_DIR/auth-secret). The
 * id alone, which sits in the database (Better Auth's invitation table) and in backups of it, does
 * not open the invitation; only the link that was mailed (or shown to an owner or admin) does
 * (docs/security.md, "Invitation links").
 */

const keys = new Map<string, Buffer>();

function linkKey(env: Env): Buffer {
  const secret = loadOrCreateAuthSecret(env.dataDir, env.BETTER_AUTH_SECRET);
  let k = keys.get(secret);
  if (!k) {
    k = crypto.createHmac("sha256", secret).update("credential-manager invitation link v1").digest();
    keys.set(secret, k);
  }
  return k;
}

function mac(env: Env, id: string): string {
  return crypto.createHmac("sha256", linkKey(env)).update(id).digest("base64url");
}

/** The secret part of an invitation's link: `<id>.<mac>`. */
export function invitationToken(env: Env, id: string): string {
  return `${id}.${mac(env, id)}`;
}

export const INVITATION_TOKEN_RE = /^[A-Za-z0-9_-]{8,128}\.[A-Za-z0-9_-]{43}$/;

/** The invitation id of a genuine link token, or null (a bare id, a forged or altered MAC). */
export function invitationIdFromToken(env: Env, token: string): string | null {
  if (!INVITATION_TOKEN_RE.test(token)) return null;
  const dot = token.indexOf(".");
  const id = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const want = Buffer.from(mac(env, id));
  return given.length === want.length && crypto.timingSafeEqual(given, want) ? id : null;
}
