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
