import "server-only";
import { cache } from "react";
import { headers } from "next/headers";
import type { Actor } from "./actor";
import { getReadyAuth } from "./accounts";
import { requestContextOf } from "../audit/request-context";
import { getEnv } from "../env";

/**
 * The signed-in user, from Better Auth's http-only session cookie (`cm.session_token`), or null.
 * Cached per request: a page, its layout and the actions it calls read the session once.
 */
export const getSession = cache(async () => {
  const auth = await getReadyAuth(getEnv());
  const s = await auth.api.getSession({ headers: await headers() });
  return s ? { userId: s.user.id, email: s.user.email, name: s.user.name } : null;
});

/** The caller of a server action or page, as the core's Actor (with the request id and client address, for the audit trail); null when signed out. */
export async function getSessionActor(): Promise<Actor | null> {
  const s = await getSession();
  if (!s) return null;
  return { kind: "user", userId: s.userId, email: s.email, ...requestContextOf(await headers(), getEnv().TRUSTED_PROXIES) };
}
