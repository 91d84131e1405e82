import "server-only";
import pino, { type DestinationStream, type Logger } from "pino";
import { getEnv } from "./env";

/**
 * Every path where a credential could sit in a log object. pino redaction covers structured
 * fields only; message strings are ours and are built from fixed text (never a parse error's
 * message about a credential: JSON.parse quotes its input).
 */
export const REDACT_PATHS = [
  "credential",
  "*.credential",
  "input",
  "*.input",
  "body",
  "*.body",
  "plaintext",
  "*.plaintext",
  "api_key",
  "*.api_key",
  "apiKey",
  "*.apiKey",
  "secret_access_key",
  "*.secret_access_key",
  "session_token",
  "*.session_token",
  "client_secret",
  "*.client_secret",
  "private_key",
  "*.private_key",
  "passphrase",
  "*.passphrase",
  "service_account_json",
  "*.service_account_json",
  "headers.authorization",
  'headers["x-api-key"]',
  "*.headers.authorization",
  '*.headers["x-api-key"]',
  "headers.cookie",
  "*.headers.cookie",
];

export function createLogger(destination?: DestinationStream): Logger {
  return pino(
    {
      level: getEnv().LOG_LEVEL,
      base: { service: "credential-manager" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

let root: Logger | null = null;

/** The process logger (stdout, one JSON line per event). */
export function getLogger(): Logger {
  root ??= createLogger();
  return root;
}

/** Send the process logger to stderr instead (the CLI, whose stdout carries only its result). */
export function logToStderr(): Logger {
  root = createLogger(pino.destination(2));
  return root;
}

/**
 * An unexpected error's stack frames for the log: only the `    at …` lines, never the message
 * (which can quote input, e.g. JSON.parse's "Unexpected token … in '<the body>'") nor any line of a
 * multi-line message. At most `max` frames.
 */
export function stackFramesOf(err: unknown, max = 8): string {
  const e = err as { stack?: unknown; message?: unknown } | null;
  const stack = typeof e?.stack === "string" ? e.stack : "";
  // V8's stack starts with "<name>: <message>", as many lines as the message has: skip them all,
  // so a message line that looks like a frame ("\n    at <the input>") is dropped too.
  const messageLines = typeof e?.message === "string" ? e.message.split("\n").length : 1;
  return stack
    .split("\n")
    .slice(messageLines)
    .filter((l) => /^\s+at \S/.test(l))
    .slice(0, max)
    .map((l) => l.slice(0, 300))
    .join("\n");
}

/** The fields to log for an unexpected error: its class name and stack frames, nothing it says. */
export function unexpectedErrorFields(err: unknown): { err_name: string; stack: string } {
  const name = (err as { name?: unknown } | null)?.name;
  return { err_name: typeof name === "string" && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name) ? name : "Error", stack: stackFramesOf(err) };
}
