import "server-only";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type { Env } from "../env";

/**
 * Outgoing mail (docs/security.md, "Mail"): invitations, address verification and password reset,
 * sent inline while the user waits; and notifications, which lib/webhooks/notify.ts queues and
 * lib/mail/mail-worker.ts sends through this same function (decision 013,
 * docs/decisions/013-queue-notifications-not-interactive-mail.md).
 *
 * - `SMTP_URL` set (smtp:// or smtps://, credentials in the URL): sent over SMTP with nodemailer.
 * - unset (the embedded default): each message is written, complete (RFC 5322), to
 *   `DATA_DIR/outbox/<time>-<random>.eml` (directory 0700, file 0600), for the operator to read and
 *   forward. Links in these messages are bearer secrets: they are never logged, and the log line
 *   for a message names only its kind and transport.
 */

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export type MailKind = "invitation" | "verify-email" | "reset-password";

export interface MailReceipt {
  transport: "smtp" | "outbox";
  /** The outbox file (outbox transport only). */
  file?: string;
}

/** True when mail really leaves the server (SMTP): only then does a verified address prove mailbox control. */
export function mailIsDelivered(env: Env): boolean {
  return Boolean(env.SMTP_URL);
}

export function outboxDir(env: Env): string {
  return path.join(env.dataDir, "outbox");
}

const GLOBAL_KEY = Symbol.for("credential-manager.mail-transports");
type G = typeof globalThis & { [GLOBAL_KEY]?: Map<string, Transporter> };

function smtpTransport(url: string): Transporter {
  const g = globalThis as G;
  const all = (g[GLOBAL_KEY] ??= new Map());
  let t = all.get(url);
  if (!t) {
    // Bounded waits: a slow or silent SMTP server fails the send instead of holding the request.
    // Options: https://nodemailer.com/smtp/ (connectionTimeout, greetingTimeout, socketTimeout).
    t = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
    all.set(url, t);
  }
  return t;
}

/** Composes the message exactly as it would go over SMTP (nodemailer's stream transport). */
async function composeEml(from: string, msg: MailMessage): Promise<Buffer> {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  const info = await composer.sendMail({ from, to: msg.to, subject: msg.subject, text: msg.text });
  return info.message as Buffer;
}

/** Sends (or, without SMTP_URL, files) one message. Throws when the SMTP server refuses it. */
export async function sendMail(env: Env, msg: MailMessage): Promise<MailReceipt> {
  if (env.SMTP_URL) {
    await smtpTransport(env.SMTP_URL).sendMail({ from: env.MAIL_FROM, to: msg.to, subject: msg.subject, text: msg.text });
    return { transport: "smtp" };
  }
  const dir = outboxDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${crypto.randomBytes(6).toString("hex")}.eml`);
  fs.writeFileSync(file, await composeEml(env.MAIL_FROM, msg), { mode: 0o600, flag: "wx" });
  return { transport: "outbox", file };
}

/** Why a send failed, for the queue and the log: fixed text, a reply code and a step name, never the server's reply text. */
export interface SendFailure {
  /** The SMTP reply code, when the server answered. */
  responseCode: number | null;
  /** True when trying again cannot help: the server refused this recipient or this message for good. */
  permanent: boolean;
  error: string;
}

/**
 * Reads what nodemailer attaches to a failed send (`responseCode`, `command`: the SMTP step that
 * was refused, `code`: ECONNECTION, ETIMEDOUT, EAUTH, EENVELOPE, EMESSAGE…; nodemailer's
 * lib/errors.ts and smtp-connection). The reply text is dropped: it often quotes the address.
 *
 * Permanent only when a 5yz reply refused the recipient (RCPT TO) or the message (DATA): RFC 5321
 * §4.2.1 (https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1) says a permanent negative reply
 * means "the SMTP client SHOULD NOT repeat the exact request (in the same sequence)", while a
 * transient (4yz) one invites the same request later. 503 ("bad sequence of commands") is
 * about the conversation, not the mail, and nodemailer's own `isPermanentResponseCode` excludes it
 * too. A 5yz to the greeting, AUTH or MAIL FROM concerns this server's configuration (SMTP_URL
 * credentials, MAIL_FROM) and every mail alike: those are retried, so mail queued while an
 * operator fixes the configuration still goes out. No answer at all (refused, reset, timed out)
 * is transient, unless nodemailer refused the mail itself (an invalid recipient, an empty or
 * oversized message): that is permanent.
 */
export function describeSendFailure(e: unknown): SendFailure {
  const err = (e ?? {}) as { code?: unknown; responseCode?: unknown; command?: unknown; name?: unknown };
  const responseCode = typeof err.responseCode === "number" && Number.isInteger(err.responseCode) && err.responseCode >= 200 && err.responseCode < 600 ? err.responseCode : null;
  const command = typeof err.command === "string" && /^[A-Z][A-Z0-9 -]{1,24}$/.test(err.command) ? err.command : null;
  const code = typeof err.code === "string" && /^[A-Z0-9_]{2,40}$/.test(err.code) ? err.code : typeof err.name === "string" && /^[A-Za-z]{2,40}$/.test(err.name) ? err.name : "Error";
  if (responseCode === null) {
    // Refused by nodemailer itself, before or without a reply (nodemailer 10,
    // dist/cjs/smtp-connection/index.js `_formatError(…, 'EENVELOPE', false, 'API')` for "No
    // recipients defined" and "Invalid recipient", `'EMESSAGE'` for "Empty message" and "Message
    // size larger than allowed"): the same mail is refused again, so it is not retried. Its
    // "Invalid sender" (MAIL_FROM) is the configuration, like a 5yz to MAIL FROM: retried.
    const message = typeof (e as { message?: unknown })?.message === "string" ? (e as { message: string }).message : "";
    const refusedByClient = (code === "EENVELOPE" && command === "API" && !message.startsWith("Invalid sender")) || code === "EMESSAGE";
    return { responseCode: null, permanent: refusedByClient, error: `could not send (${code})` };
  }
  const permanent = responseCode >= 500 && responseCode !== 503 && (command === "RCPT TO" || command === "DATA");
  return { responseCode, permanent, error: `the SMTP server answered ${responseCode}${command ? ` to ${command}` : ""} (${code})` };
}
