import "server-only";
import type { WebhookDeliveryView, WebhookView } from "./schemas";
import type { DeliveryRecord, WebhookEndpointRecord } from "./webhook-store";

/** The public view of an endpoint: never its secret. */
export function presentWebhook(r: WebhookEndpointRecord): WebhookView {
  return { id: r.id, url: r.url, events: r.events, created_at: r.createdAt };
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
