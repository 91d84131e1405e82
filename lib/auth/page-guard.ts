import "server-only";
import { notFound, redirect } from "next/navigation";
import { AppError } from "../errors";
import type { Actor, OrgRole } from "./actor";
import type { OrgRecord } from "./auth-store";
import { getMyOrgRole } from "./org-accounts";
import { getSessionActor } from "./session";

/**
 * Pages: the signed-in user and their role in the org, through the same authorizeOrgOrThrow as
 * every action and route. Signed out → the sign-in page (coming back here after); not a member
 * (or no such org) → the 404 page, so another org's existence is never revealed.
 */
export async function requireOrgPage(org: string, here: string): Promise<{ actor: Actor; org: OrgRecord; role: OrgRole; canWrite: boolean }> {
  const actor = await getSessionActor();
  if (!actor) redirect(`/sign-in?next=${encodeURIComponent(here)}`);
  try {
    const r = await getMyOrgRole({ actor, org });
    return { actor, org: r.org, role: r.role, canWrite: r.role === "owner" || r.role === "admin" };
  } catch (e) {
    return handlePageError(e, here);
  }
}

/** Core errors in a page: not found → 404, signed out → sign in; anything else propagates. */
export function handlePageError(e: unknown, here: string): never {
  if (e instanceof AppError) {
    if (e.code === "org_not_found" || e.code === "unknown_provider" || e.code === "not_found") notFound();
    if (e.code === "unauthenticated") redirect(`/sign-in?next=${encodeURIComponent(here)}`);
  }
  throw e;
}
