import "server-only";
import type { WebhookDeliveryView, WebhookView } from "./schemas";
import type { DeliveryRecord, WebhookEndpointRecord } from "./webhook-store";

/** The public view of an endpoint: never its secret. */
export function presentWebhook(r: WebhookEndpointRecord): WebhookView {
  return { id: r.id, url: r.url, events: r.events, created_at: r.createdAt };
}

/** Longest origin an audit event keeps (a refused URL is not length-checked yet). */
const ORIGIN_MAX = 300;

/**
 * A webhook URL's origin: scheme, host and port only. Never its path or query (they can carry a
 * token) nor its user info: the WHATWG URL standard's origin has none of them
 * (https://url.spec.whatwg.org/#concept-url-origin). Null when it is not a URL with an origin.
 */
export function webhookUrlOrigin(url: unknown): string | null {
  if (typeof url !== "string") return null;
  let origin: string;
  try {
    origin = new URL(url.trim()).origin;
  } catch {
    return null;
  }
  if (origin === "null") return null;
  return origin.length > ORIGIN_MAX ? `${origin.slice(0, ORIGIN_MAX)}…` : origin;
}

/** The `target` of webhook.create / webhook.delete events: `wh_… (https://host:port)`; for a refused create, the origin tried. */
export function webhookAuditTarget(id: string | null, url: unknown): string | null {
  const origin = webhookUrlOrigin(url);
  if (id === null) return origin === null ? null : `(${origin})`;
  return origin === null ? id : `${id} (${origin})`;
}

export function presentDelivery(r: DeliveryRecord): WebhookDeliveryView {
  return {
    id: r.id,
    webhook_id: r.endpointId,
    event: r.event,
    provider: r.provider,
    status: r.status,
    attempts: r.attempts,
    last_response_code: r.lastResponseCode,
    last_error: r.lastError,
    created_at: r.createdAt,
    last_attempt_at: r.lastAttemptAt,
    next_attempt_at: r.nextAttemptAt,
    delivered_at: r.deliveredAt,
  };
}
