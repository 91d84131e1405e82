import type { ConnectionTestResult } from "./integrations/protocols/types";
import { hasBrand } from "./brand";

/** Every error code of docs/api.md, with its HTTP status. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_format: 400,
  invalid_metadata: 400,
  unauthenticated: 401,
  forbidden: 403,
  org_not_found: 404,
  unknown_provider: 404,
  integration_not_found: 404,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  connection_test_failed: 422,
  rate_limited: 429,
  provider_unreachable: 502,
  encryption_unavailable: 503,
  storage_unavailable: 503,
  provider_timeout: 504,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

// instanceof across module copies (lib/brand.ts): an AppError may come from code in another module graph.
const APP_ERROR: unique symbol = Symbol.for("credential-manager.AppError") as never;

/**
 * An expected failure with a code from docs/api.md. Its message is written for a person and must
 * never contain credential material: build it from fixed text, field names and ids only.
 */
export class AppError extends Error {
  readonly [APP_ERROR] = true;
  static override [Symbol.hasInstance](x: unknown): boolean {
    return hasBrand(x, APP_ERROR);
  }
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: {
      fields?: Record<string, string>;
      connection_test?: ConnectionTestResult;
      retryAfterS?: number;
      /** For the request log only (never in the body): the attempted credential's fingerprint. */
      fingerprint?: string;
    } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = ERROR_STATUS[code];
  }

  toBody(requestId?: string) {
    const { fields, connection_test } = this.extra;
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(fields ? { fields } : {}),
        ...(connection_test ? { connection_test: publicConnectionTest(connection_test) } : {}),
        ...(requestId ? { request_id: requestId } : {}),
      },
    };
  }
}

/** The part of a connection test result that leaves the server (account/key_kind live on the integration). */
export function publicConnectionTest(r: ConnectionTestResult) {
  return {
    outcome: r.outcome,
    duration_ms: Math.round(r.duration_ms),
    checks: r.checks.map((c) => ({
      name: c.name,
      outcome: c.outcome,
      duration_ms: Math.round(c.duration_ms),
      ...(c.message ? { message: c.message } : {}),
      ...(c.retry_after_s !== undefined ? { retry_after_s: c.retry_after_s } : {}),
    })),
    ...(r.retry_after_s !== undefined ? { retry_after_s: r.retry_after_s } : {}),
  };
}
