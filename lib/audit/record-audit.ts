import "server-only";
import crypto from "node:crypto";
import os from "node:os";
import type { Logger } from "pino";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import type { AuditStore } from "./audit-store";
import type { ChainedAuditEvent } from "./chain";
import type { AuditAction, AuditActor, AuditEvent } from "./events";

/** What the core's deps carry for the audit trail (CoreDeps.audit). */
export interface AuditBackend {
  store: AuditStore;
  /** The chain's HMAC key (AUDIT_HMAC_KEY or DATA_DIR/audit-hmac-key). */
  key: Buffer;
  /** AUDIT_RETENTION_DAYS. */
  retentionDays: number;
}

export interface AuditDeps {
  audit: AuditBackend;
  now: () => number;
  log: Logger;
}

/** One event as a use case reports it; the rest (id, time, actor, request) is filled in here. */
export interface AuditInput {
  /** Who did it, as the core received it (its request id and client address travel with it). */
  actor: Actor | null;
  org: string;
  action: AuditAction;
  provider?: string | null;
  fingerprint_before?: string | null;
  fingerprint_after?: string | null;
  /** "ok", or the error code (or connection-test outcome) it ended with. */
  outcome: string;
  /** What the action was done to when it is not a credential (a key id, a member's email). */
  target?: string | null;
  /** For events with no Actor (a failed sign-in): who it was about. */
  auditActor?: AuditActor;
  request_id?: string;
  client_ip?: string | null;
}

let cliIdentity: string | null = null;
/** The operator running the CLI: OS user @ host (whoever holds DATA_DIR or the database URL). */
function cliActorId(): string {
  if (cliIdentity === null) {
    let user = "unknown";
    try {
      user = os.userInfo().username;
    } catch {
      /* no passwd entry (containers) */
    }
    cliIdentity = `${user}@${os.hostname()}`;
  }
  return cliIdentity;
}

/** The API's actor for a core Actor. */
export function auditActorOf(actor: Actor | null): AuditActor {
  if (!actor) return { type: "user", id: "anonymous" };
  switch (actor.kind) {
    case "api_key":
      return { type: "api_key", id: actor.keyId };
    case "user":
      return { type: "user", id: actor.userId, email: actor.email };
    case "system":
      return actor.name === "scheduler" ? { type: "scheduler", id: "scheduler" } : { type: "cli", id: cliActorId() };
  }
}

/** The event, as it will be stored (pure: tests and the leak check use it). */
export function buildAuditEvent(deps: Pick<AuditDeps, "now">, input: AuditInput): AuditEvent {
  const ctx = (input.actor ?? {}) as { requestId?: string; clientIp?: string | null };
  return {
    id: crypto.randomUUID(),
    at: new Date(deps.now()).toISOString(),
    org: input.org,
    actor: input.auditActor ?? auditActorOf(input.actor),
    action: input.action,
    provider: input.provider ?? null,
    fingerprint_before: input.fingerprint_before ?? null,
    fingerprint_after: input.fingerprint_after ?? null,
    outcome: input.outcome,
    request_id: input.request_id ?? ctx.requestId ?? crypto.randomUUID(),
    client_ip: input.client_ip ?? ctx.clientIp ?? null,
    target: input.target ?? null,
  };
}

const PRUNE_EVERY_MS = 60 * 60_000;
const lastPrune = new WeakMap<AuditStore, number>();

/** Deletes events older than AUDIT_RETENTION_DAYS (the chain keeps verifying from the oldest kept event). */
export async function pruneExpiredAuditEvents(deps: AuditDeps): Promise<number> {
  lastPrune.set(deps.audit.store, deps.now());
  return deps.audit.store.prune(new Date(deps.now() - deps.audit.retentionDays * 86_400_000));
}

/** Retention runs at append, at most once an hour per process, after the event is written. */
function pruneSometimes(deps: AuditDeps): void {
  const last = lastPrune.get(deps.audit.store);
  if (last !== undefined && deps.now() - last < PRUNE_EVERY_MS) return;
  pruneExpiredAuditEvents(deps).catch((e: unknown) => {
    deps.log.error({ err_name: (e as Error)?.name ?? "Error" }, "audit retention could not delete expired events");
  });
}

/**
 * Writes one audit event. Called by the core after the change (or the attempt) it records, so a
 * failure here cannot undo a change that already happened: it is logged (without the event's
 * content) and null is returned. Use recordAuditOrThrow where the action must not happen without
 * its record (handing out a credential).
 */
export async function recordAudit(deps: AuditDeps, input: AuditInput): Promise<ChainedAuditEvent | null> {
  try {
    return await recordAuditOrThrow(deps, input);
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return null;
  }
}

/** Writes one audit event or throws storage_unavailable (fail closed). */
export async function recordAuditOrThrow(deps: AuditDeps, input: AuditInput): Promise<ChainedAuditEvent> {
  const event = buildAuditEvent(deps, input);
  let stored: ChainedAuditEvent;
  try {
    stored = await deps.audit.store.append(event);
  } catch (e) {
    deps.log.error({ org: input.org, action: input.action, err_name: (e as Error)?.name ?? "Error" }, "audit event could not be written");
    throw new AppError("storage_unavailable", "The audit trail is unavailable, so this was not done. Try again shortly.");
  }
  pruneSometimes(deps);
  return stored;
}

/**
 * Writes several events of one org in one transaction (lib/audit/audit-store.ts, appendMany): for
 * a run that changes many things at once (`kms rotate`), one commit per batch, not per event. Like
 * recordAudit, called after the changes; a failure is logged (without the events) and [] returned.
 */
export async function recordAuditBatch(deps: AuditDeps, inputs: readonly AuditInput[]): Promise<ChainedAuditEvent[]> {
  if (inputs.length === 0) return [];
  const events = inputs.map((input) => buildAuditEvent(deps, input));
  let stored: ChainedAuditEvent[];
  try {
    stored = await deps.audit.store.appendMany(events);
  } catch (e) {
    deps.log.error({ org: events[0]!.org, action: events[0]!.action, events: events.length, err_name: (e as Error)?.name ?? "Error" }, "audit events could not be written");
    return [];
  }
  pruneSometimes(deps);
  return stored;
}

/**
 * Failures that are not recorded: the caller was not established as a member of the org (so it
 * cannot write into that org's trail), or named nothing real, or was throttled (a flood of 429s
 * would otherwise flood the trail).
 */
const UNRECORDED = new Set(["unauthenticated", "org_not_found", "unknown_provider", "rate_limited"]);

/** The outcome of a failed attempt, or null when the attempt is not recorded. */
export function auditOutcomeOf(e: unknown): string | null {
  if (e instanceof AppError) return UNRECORDED.has(e.code) ? null : e.code;
  return "internal";
}

/** Records a failed attempt (when it is one that is recorded), then lets the caller rethrow. */
export async function recordAuditFailure(deps: AuditDeps, input: Omit<AuditInput, "outcome">, e: unknown): Promise<void> {
  const outcome = auditOutcomeOf(e);
  if (outcome === null) return;
  const fp = e instanceof AppError ? e.extra.fingerprint : undefined;
  await recordAudit(deps, { ...input, outcome, fingerprint_after: input.fingerprint_after ?? fp ?? null });
}
