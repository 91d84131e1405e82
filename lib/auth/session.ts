import "server-only";
import { cookies } from "next/headers";
import type { Actor } from "./actor";
import { getDeps } from "../integrations/deps";

/**
 * The caller of a server action, from the http-only session cookie. Until user accounts land
 * (the web-app issue), the session holds an org API key, verified exactly as the REST API does;
 * the accounts layer replaces this function and nothing else changes.
 */
export const SESSION_COOKIE = "cm_session";

export async function getSessionActor(): Promise<Actor | null> {
  const jar = await cookies();
  const raw = jar.get(SESSION_COOKIE)?.value;
  if (!raw) return null;
  const deps = getDeps();
  const v = deps.auth.verifyApiKey(raw, new Date(deps.now()));
  return v ? { kind: "api_key", ...v } : null;
}
