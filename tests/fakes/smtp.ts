import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";

/**
 * A real SMTP server (the `smtp-server` package) on 127.0.0.1 that keeps each message it accepts
 * with its envelope: no TLS, no AUTH. `answerRcpt` makes it refuse a recipient with a reply code
 * (4yz for later, 5yz for good: RFC 5321 §4.2.1, https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1),
 * with a reply text that quotes the address as real servers do (Postfix: "550 5.1.1 <addr>:
 * Recipient address rejected"). `port` reopens a server on a port a test used before (the server
 * "comes back").
 */

export interface CapturedMail {
  /** Envelope recipients (RCPT TO), lower-cased. */
  to: string[];
  from: string;
  /** The message as received, quoted-printable decoded (so links and text can be searched). */
  raw: string;
}

export interface SmtpFake {
  url: string;
  port: number;
  messages: CapturedMail[];
  close(): Promise<void>;
}

export async function startSmtpFake(opts: { port?: number; answerRcpt?: (address: string) => number | null } = {}): Promise<SmtpFake> {
  const messages: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const code = opts.answerRcpt?.(address.address) ?? null;
      if (code === null) return callback();
      callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected`), { responseCode: code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          raw: decodeQuotedPrintable(Buffer.concat(chunks).toString("utf8")),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, "127.0.0.1", () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, port, messages, close: () => new Promise((r) => server.close(() => r())) };
}

/** Soft line breaks and =XX escapes (RFC 2045 §6.7), so links can be found in a message's text. */
export function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}
