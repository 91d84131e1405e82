import "server-only";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type { Env } from "../env";

/**
 * Outgoing mail: invitations, address verification and password reset (docs/security.md, "Mail").
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
