import "server-only";
import crypto from "node:crypto";
import type { RequestContext } from "../auth/actor";
import { requestClientAddress } from "../auth/client-address";

/**
 * The request id and client address a transport puts on the Actor for the audit trail: the
 * caller's X-Request-Id when it is a plain token (else a fresh one), and the client address as the
 * attempt budgets see it (the socket's; X-Forwarded-For only from TRUSTED_PROXIES).
 */
export function requestContextOf(h: Headers, trustedProxies: string | undefined, requestId?: string): RequestContext {
  const ip = requestClientAddress(h, trustedProxies);
  return {
    requestId: requestId ?? h.get("x-request-id")?.match(/^[A-Za-z0-9-]{8,64}$/)?.[0] ?? crypto.randomUUID(),
    clientIp: ip && ip !== "unknown" ? ip : null,
  };
}
