import { z } from "zod";

/**
 * Audit events (docs/api.md, "Operating endpoints"): what was done to an org's credentials, keys
 * and members, by whom, with what outcome. Client-safe (the Activity page's filters import it):
 * no secrets live here, only fingerprints.
 */

export const AUDIT_ACTIONS = [
  "integration.setup",
  "integration.replace",
  "integration.validate",
  "integration.delete",
  "integration.metadata",
  "integration.access",
  "credential.rekey",
  "api_key.create",
  "api_key.revoke",
  "member.invite",
  "member.role_change",
  "member.remove",
  "invitation.accept",
  "invitation.cancel",
  "webhook.create",
  "webhook.delete",
  "sign_in.failed",
  "password.reset",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_ACTOR_TYPES = ["user", "api_key", "cli", "scheduler"] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

export const AuditActorSchema = z.object({
  type: z.enum(AUDIT_ACTOR_TYPES),
  id: z.string(),
  email: z.string().optional(),
});
export type AuditActor = z.infer<typeof AuditActorSchema>;

const Fingerprint = z.string().regex(/^[0-9a-f]{8}$/).nullable();

/** One event as the API serves it. `outcome` is "success" or the error code / connection-test outcome. */
export const AuditEventSchema = z.object({
  id: z.string(),
  at: z.string(),
  org: z.string(),
  actor: AuditActorSchema,
  action: z.enum(AUDIT_ACTIONS),
  provider: z.string().nullable(),
  fingerprint_before: Fingerprint,
  fingerprint_after: Fingerprint,
  outcome: z.string(),
  request_id: z.string(),
  client_ip: z.string().nullable(),
  /**
   * What the action was done to when it is not (only) a credential: an API key id, an invited or
   * changed member's email (and role), a webhook endpoint id and its URL's origin, the key versions
   * of a re-encryption.
   */
  target: z.string().nullable(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/**
 * An event's fields after its id, org and time, in the one order the hash chain (lib/audit/chain.ts),
 * the stores' columns (lib/audit/audit-store.ts) and the CSV export (lib/audit/csv.ts) all use.
 * Changing it changes every event hash: existing chains would no longer verify.
 */
export function eventDetails(e: AuditEvent): Array<string | null> {
  return [
    e.actor.type,
    e.actor.id,
    e.actor.email ?? null,
    e.action,
    e.provider,
    e.fingerprint_before,
    e.fingerprint_after,
    e.outcome,
    e.request_id,
    e.client_ip,
    e.target,
  ];
}

export const AuditPageSchema = z.object({
  events: z.array(AuditEventSchema),
  next_cursor: z.string().nullable(),
});
export type AuditPage = z.infer<typeof AuditPageSchema>;

export const AUDIT_DEFAULT_LIMIT = 50;
export const AUDIT_MAX_LIMIT = 500;
/** Activity CSV exports per org per minute (lib/audit/export-csv.ts): a person downloads a file now and then. */
export const AUDIT_EXPORTS_PER_MINUTE = 6;

/** Query of GET /integrations/{org}/audit (and the Activity page, and its CSV export). */
export const AuditQuerySchema = z
  .object({
    limit: z.coerce
      .number({ message: `must be a whole number from 1 to ${AUDIT_MAX_LIMIT}` })
      .int({ message: `must be a whole number from 1 to ${AUDIT_MAX_LIMIT}` })
      .min(1, { message: `must be a whole number from 1 to ${AUDIT_MAX_LIMIT}` })
      .max(AUDIT_MAX_LIMIT, { message: `must be at most ${AUDIT_MAX_LIMIT}` })
      .default(AUDIT_DEFAULT_LIMIT),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, { message: "must be a next_cursor value from a previous page" })
      .optional(),
    provider: z
      .string()
      .regex(/^[a-z0-9_-]{1,64}$/, { message: "must be a provider id" })
      .optional(),
    action: z.enum(AUDIT_ACTIONS, { message: `must be one of ${AUDIT_ACTIONS.join(", ")}` }).optional(),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
