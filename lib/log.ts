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

/**
 * The REDACT_PATHS that name a top-level field. Every other path ("*.x", "headers.x") reaches into a
 * nested object, so on a line whose values are all primitives only these can match.
 */
export const TOP_LEVEL_REDACT_PATHS = REDACT_PATHS.filter((p) => !p.includes(".") && !p.includes("["));

const flatChildren = new WeakMap<Logger, Logger>();

/**
 * `log.info(fields, msg)` for the one line every request writes. When every value is a primitive,
 * it goes through a child (made once per logger) that redacts only TOP_LEVEL_REDACT_PATHS: the
 * same redaction that line gets from the full list, since no nested path can match it, without
 * walking the 18 wildcard and nested paths (measured with pino 10: about 20 µs a line with the
 * full list, under 3 µs with the top-level ones). A line with any object value goes through `log`
 * itself, fully redacted.
 */
export function infoLine(log: Logger, fields: Record<string, unknown>, msg: string): void {
  for (const k in fields) {
    const v = fields[k];
    if (v !== null && (typeof v === "object" || typeof v === "function")) {
      log.info(fields, msg);
      return;
    }
  }
  let flat = flatChildren.get(log);
  if (!flat || flat.level !== log.level) {
    flat = log.child({}, { redact: { paths: TOP_LEVEL_REDACT_PATHS, censor: "[redacted]" } });
    flatChildren.set(log, flat);
  }
  flat.info(fields, msg);
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
