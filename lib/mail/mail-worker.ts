import "server-only";
import type { Logger } from "pino";
import type { Env } from "../env";
import { nextAttemptAt } from "../queue/backoff";
import { QueueWorker } from "../queue/queue-worker";
import { describeSendFailure, sendMail, type MailMessage, type SendFailure } from "./index";
import type { MailQueue, QueuedMail } from "./mail-queue";

export interface MailWorkerDeps {
  queue: MailQueue;
  env: Env;
  log: Logger;
  now: () => number;
  random?: () => number;
  /** Sends one message (default: lib/mail's sendMail, SMTP_URL or the DATA_DIR outbox). */
  send?: (env: Env, msg: MailMessage) => Promise<unknown>;
  /** The longest the worker waits for one send (default 60 s). */
  sendLimitMs?: number;
}

/**
 * The lease outlasts the longest wait for a send (60 s, and nodemailer's own connection, greeting
 * and socket timeouts of 10, 10 and 20 s in lib/mail/index.ts stop it sooner) by a minute: no
 * second instance takes a mail while the first may still be sending it. Sent and failed mail holds
 * addresses: kept a week for diagnosis, then deleted.
 */
const OPTIONS = { leaseMs: 120_000, batch: 10, keepFinishedMs: 7 * 86_400_000 };
const SEND_LIMIT_MS = 60_000;

/**
 * Sends queued notification mail (lib/mail/mail-queue.ts): claims due rows under a lease, so that
 * with several instances each mail is sent by one of them, sends each, and records the outcome:
 * sent; retried with the shared backoff (lib/queue/backoff.ts: from 30 s, doubling, for 24
 * hours) when the server is unreachable or answers 4yz; failed at once when it refuses the
 * recipient or message for good (describeSendFailure); failed after the 24 hours otherwise. The
 * 24 hours cover reaching the relay at SMTP_URL only: once it accepts a mail, the relay queues and
 * retries it towards the recipient's server on its own, longer schedule (RFC 5321 §4.5.4.1,
 * https://www.rfc-editor.org/rfc/rfc5321#section-4.5.4.1: "give-up time generally needs to be at
 * least 4-5 days"). Logs name the mail id, org, event and the failure, never the address
 * (docs/security.md, "Mail").
 *
 * When the server's answer is lost (a timeout after the message was sent, the connection dropped
 * before the final reply), the mail is tried again: a possible duplicate rather than a loss, the
 * trade-off SMTP itself makes (RFC 1047, https://www.rfc-editor.org/rfc/rfc1047).
 */
export class MailWorker extends QueueWorker<QueuedMail> {
  constructor(private readonly deps: MailWorkerDeps) {
    super("mail", { queue: deps.queue, log: deps.log, now: deps.now }, OPTIONS);
  }

  protected async deliver(row: QueuedMail): Promise<void> {
    const d = this.deps;
    const failure = await this.attempt(row);
    const at = d.now();
    const atIso = new Date(at).toISOString();
    const fields = { mail_id: row.id, org: row.org, event: row.event, attempt: row.attempts + 1 };
    if (!failure) {
      await d.queue.recordAttempt(row.id, { status: "sent", responseCode: null, error: null, at: atIso, nextAttemptAt: null });
      d.log.info(fields, "notification mail sent");
      return;
    }
    const next = failure.permanent ? null : nextAttemptAt({ attempts: row.attempts + 1, createdAtMs: Date.parse(row.createdAt), nowMs: at, random: d.random });
    await d.queue.recordAttempt(row.id, {
      status: next === null ? "failed" : "pending",
      responseCode: failure.responseCode,
      error: failure.error,
      at: atIso,
      nextAttemptAt: next === null ? null : new Date(next).toISOString(),
    });
    const logged = { ...fields, response_code: failure.responseCode, error: failure.error, permanent: failure.permanent, gave_up: next === null };
    if (next === null) d.log.error(logged, "notification mail not sent; given up");
    else d.log.warn(logged, "notification mail not sent; will retry");
  }

  /** One send, bounded in time: null when the server accepted it, else why not. */
  private async attempt(row: QueuedMail): Promise<SendFailure | null> {
    const d = this.deps;
    const limit = d.sendLimitMs ?? SEND_LIMIT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      const sent = (d.send ?? sendMail)(d.env, { to: row.to, subject: row.subject, text: row.text });
      const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), limit)));
      if ((await Promise.race([sent, timedOut])) === "timeout") {
        sent.catch(() => {}); // settles later; its outcome is unknown to the queue
        return { responseCode: null, permanent: false, error: `no answer within ${limit} ms` };
      }
      return null;
    } catch (e) {
      return describeSendFailure(e);
    } finally {
      clearTimeout(timer);
    }
  }
}
