import "server-only";
import { SqliteFileStore } from "../storage/sqlite-file";
import { byDue, mailQueueTableSql, toQueuedMail, type MailAttempt, type MailQueue, type MailRow, type NewMail, type QueuedMail } from "./mail-queue";

/** MailQueue in SQLite (DATA_DIR/auth.sqlite, beside the webhook delivery queue). */
export class SqliteMailQueue extends SqliteFileStore implements MailQueue {
  readonly backend = "sqlite" as const;

  constructor(file: string) {
    super(file);
    this.db.exec(mailQueueTableSql("TEXT"));
  }

  async enqueue(rows: NewMail[]): Promise<void> {
    const ins = this.stmt(
      "INSERT INTO mail_queue (id, org, event, recipient, subject, body, status, attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
    );
    this.db.transaction(() => {
      for (const r of rows) ins.run(r.id, r.org, r.event, r.to, r.subject, r.text, r.createdAt, r.createdAt);
    })();
  }

  async claimDue(now: string, leaseUntil: string, limit: number): Promise<QueuedMail[]> {
    // One statement, and SQLite has one writer at a time: two processes never claim the same row.
    const rows = this.stmt(
      `UPDATE mail_queue SET locked_until = ?
       WHERE id IN (SELECT id FROM mail_queue
                    WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
                    ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING *`,
    ).all(leaseUntil, now, now, limit) as MailRow[];
    return rows.map(toQueuedMail).sort(byDue);
  }

  async recordAttempt(id: string, o: MailAttempt): Promise<void> {
    this.stmt(
      `UPDATE mail_queue SET attempts = attempts + 1, status = ?, last_response_code = ?, last_error = ?, last_attempt_at = ?,
         next_attempt_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, locked_until = NULL
       WHERE id = ? AND status = 'pending'`,
    ).run(o.status, o.responseCode, o.error, o.at, o.nextAttemptAt, o.status, o.at, id);
  }

  async list(org: string, limit: number): Promise<QueuedMail[]> {
    return (this.stmt("SELECT * FROM mail_queue WHERE org = ? ORDER BY created_at DESC, id DESC LIMIT ?").all(org, limit) as MailRow[]).map(toQueuedMail);
  }

  async pruneFinished(before: string): Promise<number> {
    return this.stmt("DELETE FROM mail_queue WHERE status <> 'pending' AND created_at < ?").run(before).changes;
  }
}
