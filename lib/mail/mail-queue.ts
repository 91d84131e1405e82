import "server-only";
import crypto from "node:crypto";

/**
 * The durable queue of notification mail (the integration-event mail to an org's owners and
 * admins, lib/webhooks/notify.ts), in the auth database next to the webhook delivery queue:
 * SQLite in DATA_DIR/auth.sqlite by default, Postgres with AUTH_DATABASE_URL. One row per
 * recipient, so one address the server refuses never holds up, or re-sends to, the others.
 *
 * Only notifications are queued: they carry org, provider, status and fingerprint, never a
 * credential and never a bearer link. Invitation, verification and reset mail is sent inline while
 * the user waits and is never stored (docs/security.md, "Mail").
 *
 * Each row is claimed with a lease, so several instances (or a crashed one) neither lose nor
 * double a mail. Times are ISO 8601 strings with milliseconds. lib/mail/mail-queue-contract.ts is
 * the behaviour both implementations must have.
 */

export type QueuedMailStatus = "pending" | "sent" | "failed";

export interface QueuedMail {
  id: string;
  org: string;
  /** What the mail reports (an integration event type). */
  event: string;
  to: string;
  subject: string;
  text: string;
  status: QueuedMailStatus;
  attempts: number;
  /** The SMTP reply code of the last failed attempt, or null (no answer, or not SMTP). */
  lastResponseCode: number | null;
  /** Why the last attempt failed: fixed sentences and codes, never the server's reply text (it may quote the address). */
  lastError: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  /** When the worker may try next; null once sent or failed for good. */
  nextAttemptAt: string | null;
  sentAt: string | null;
}

export type NewMail = Pick<QueuedMail, "id" | "org" | "event" | "to" | "subject" | "text" | "createdAt">;

export interface MailAttempt {
  status: QueuedMailStatus;
  responseCode: number | null;
  error: string | null;
  at: string;
  nextAttemptAt: string | null;
}

export interface MailQueue {
  readonly backend: "sqlite" | "postgres";
  /** Queue mail, each due at once (at its `createdAt`). */
  enqueue(rows: NewMail[]): Promise<void>;
  /**
   * Take up to `limit` due pending mails (next attempt ≤ now, no live lease), leasing each until
   * `leaseUntil` so no other worker takes it meanwhile. Oldest due first.
   */
  claimDue(now: string, leaseUntil: string, limit: number): Promise<QueuedMail[]>;
  /** Record one attempt and release the lease; a row already sent or failed is left as it is. */
  recordAttempt(id: string, outcome: MailAttempt): Promise<void>;
  /** The org's queued mail, newest first (operators' diagnosis, tests). */
  list(org: string, limit: number): Promise<QueuedMail[]>;
  /** Deletes sent and failed mail created before `before`; returns how many. */
  pruneFinished(before: string): Promise<number>;
  close(): Promise<void>;
}

export const newMailId = (): string => `mail_${crypto.randomBytes(8).toString("hex")}`;

/** The table, for both stores: only the time column type differs by dialect. */
export function mailQueueTableSql(time: "TEXT" | "TIMESTAMPTZ"): string {
  return `  CREATE TABLE IF NOT EXISTS mail_queue (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    event TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_response_code INTEGER,
    last_error TEXT,
    created_at ${time} NOT NULL,
    last_attempt_at ${time},
    next_attempt_at ${time},
    sent_at ${time},
    locked_until ${time}
  );
  CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue(status, next_attempt_at);
  CREATE INDEX IF NOT EXISTS mail_queue_org ON mail_queue(org, created_at);
`;
}

export interface MailRow {
  id: string;
  org: string;
  event: string;
  recipient: string;
  subject: string;
  body: string;
  status: string;
  attempts: number | string;
  last_response_code: number | null;
  last_error: string | null;
  created_at: string | Date;
  last_attempt_at: string | Date | null;
  next_attempt_at: string | Date | null;
  sent_at: string | Date | null;
}

const iso = (v: string | Date | null): string | null => (v === null ? null : v instanceof Date ? v.toISOString() : v);

/** A row of either store as a QueuedMail (Postgres answers Date objects, SQLite strings). */
export function toQueuedMail(r: MailRow): QueuedMail {
  return {
    id: r.id,
    org: r.org,
    event: r.event,
    to: r.recipient,
    subject: r.subject,
    text: r.body,
    status: r.status as QueuedMailStatus,
    attempts: Number(r.attempts),
    lastResponseCode: r.last_response_code === null ? null : Number(r.last_response_code),
    lastError: r.last_error,
    createdAt: iso(r.created_at)!,
    lastAttemptAt: iso(r.last_attempt_at),
    nextAttemptAt: iso(r.next_attempt_at),
    sentAt: iso(r.sent_at),
  };
}

export const byDue = (a: QueuedMail, b: QueuedMail): number => (a.nextAttemptAt ?? "").localeCompare(b.nextAttemptAt ?? "") || a.id.localeCompare(b.id);
