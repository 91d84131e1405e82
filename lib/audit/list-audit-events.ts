import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import type { AuthStore } from "../auth/auth-store";
import type { MembershipLookup } from "../auth/authorize";
import { AppError } from "../errors";
import { getDeps } from "../deps";
import { issuesToFields } from "../integrations/schemas";
import type { AuditBackend } from "./record-audit";
import { AuditPageSchema, AuditQuerySchema, type AuditEvent, type AuditPage } from "./events";
import type { ChainedAuditEvent } from "./chain";

type ListDeps = { auth: AuthStore; memberships: MembershipLookup; audit: AuditBackend };

/**
 * The audit trail may be read by the org's owners and admins (and admin keys, and the operator's
 * CLI) only: it names members, keys and client addresses. Viewers, viewer and pipeline keys: 403.
 */
export async function authorizeAuditReadOrThrow(deps: ListDeps, actor: Actor | null, org: string): Promise<void> {
  await authorizeOrgOrThrow(deps, actor, org, "read");
  let allowed = false;
  if (actor?.kind === "system") allowed = true;
  else if (actor?.kind === "api_key") allowed = actor.role === "admin";
  else if (actor?.kind === "user") {
    const role = await deps.memberships(actor.userId, org);
    allowed = role === "owner" || role === "admin";
  }
  if (!allowed) throw new AppError("forbidden", "Only the organization's owners and admins (and admin API keys) can read its audit trail.");
}

const encodeCursor = (seq: number) => Buffer.from(`s${seq}`, "utf8").toString("base64url");

function decodeCursorOrThrow(cursor: string): number {
  const m = /^s(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) throw new AppError("invalid_request", "The cursor is not one this API gave out; use next_cursor from the previous page.", { fields: { cursor: "is not a next_cursor value" } });
  return Number(m[1]);
}

/** An event as the API shows it: the chain's own columns stay inside. */
export function presentAuditEvent(e: ChainedAuditEvent): AuditEvent {
  const { seq: _seq, prev_hash: _prev, hash: _hash, ...event } = e;
  return event;
}

/**
 * An org's audit events, newest first, `limit` per page (default 50, at most 500), filtered by
 * provider and action; `next_cursor` fetches the next (older) page and is null on the last.
 */
export async function listAuditEvents(args: { actor: Actor | null; org: string; query: unknown }, deps: ListDeps = getDeps()): Promise<AuditPage> {
  await authorizeAuditReadOrThrow(deps, args.actor, args.org);
  const parsed = AuditQuerySchema.safeParse(args.query);
  if (!parsed.success) {
    const fields = issuesToFields(parsed.error);
    throw new AppError("invalid_request", `The audit query is not valid: ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("; ")}.`, { fields });
  }
  const q = parsed.data;
  const rows = await deps.audit.store.list(args.org, {
    limit: q.limit + 1,
    beforeSeq: q.cursor === undefined ? undefined : decodeCursorOrThrow(q.cursor),
    provider: q.provider,
    action: q.action,
  });
  const page = rows.slice(0, q.limit);
  const more = rows.length > q.limit;
  return AuditPageSchema.parse({ events: page.map(presentAuditEvent), next_cursor: more ? encodeCursor(page[page.length - 1]!.seq) : null });
}
