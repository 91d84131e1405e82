import "server-only";
import type { Pool } from "pg";
import { PostgresStore } from "../auth/pg-pool";
import { byDue, mailQueueTableSql, toQueuedMail, type MailAttempt, type MailQueue, type MailRow, type NewMail, type QueuedMail } from "./mail-queue";

/**
 * MailQueue in Postgres (AUTH_DATABASE_URL). The pool belongs to the caller (the process-wide
 * sharedAuthPool). The table is created on first use, serialized across instances by an advisory lock.
 */
export class PostgresMailQueue extends PostgresStore implements MailQueue {
  constructor(pool: Pool) {
    super(pool, "mail queue", "credential-manager.mail-queue.schema", mailQueueTableSql("TIMESTAMPTZ"));
  }

  async enqueue(rows: NewMail[]): Promise<void> {
    if (rows.length === 0) return;
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.id, r.org, r.event, r.to, r.subject, r.text, r.createdAt);
      const b = i * 7;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, 'pending', 0, $${b + 7}, $${b + 7})`;
    });
    await this.query(`INSERT INTO mail_queue (id, org, event, recipient, subject, body, status, attempts, created_at, next_attempt_at) VALUES ${tuples.join(", ")}`, values);
  }

  async claimDue(now: string, leaseUntil: string, limit: number): Promise<QueuedMail[]> {
    // FOR UPDATE SKIP LOCKED: concurrent instances claim disjoint rows without waiting on each other.
    // https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE
    const { rows } = await this.query<MailRow>(
      `UPDATE mail_queue SET locked_until = $1
       WHERE id IN (SELECT id FROM mail_queue
                    WHERE status = 'pending' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)
                    ORDER BY next_attempt_at, id COLLATE "C" LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [leaseUntil, now, limit],
    );
    return rows.map(toQueuedMail).sort(byDue);
  }

  async recordAttempt(id: string, o: MailAttempt): Promise<void> {
    await this.query(
      `UPDATE mail_queue SET attempts = attempts + 1, status = $1, last_response_code = $2, last_error = $3, last_attempt_at = $4,
         next_attempt_at = $5, sent_at = CASE WHEN $1 = 'sent' THEN $4::timestamptz ELSE sent_at END, locked_until = NULL
       WHERE id = $6 AND status = 'pending'`,
      [o.status, o.responseCode, o.error, o.at, o.nextAttemptAt, id],
    );
  }

  async list(org: string, limit: number): Promise<QueuedMail[]> {
    const { rows } = await this.query<MailRow>('SELECT * FROM mail_queue WHERE org = $1 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2', [org, limit]);
    return rows.map(toQueuedMail);
  }

  async pruneFinished(before: string): Promise<number> {
    return (await this.query("DELETE FROM mail_queue WHERE status <> 'pending' AND created_at < $1", [before])).rowCount;
  }
}
