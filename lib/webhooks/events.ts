/** The events an endpoint can subscribe to (docs/api.md, "Operating endpoints"). No zod here: client components import it. */
export const WEBHOOK_EVENTS = ["integration.created", "integration.replaced", "integration.deleted", "integration.status_changed"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_EVENT_LABELS: Record<WebhookEventType, string> = {
  "integration.created": "A provider is connected",
  "integration.replaced": "A credential is replaced",
  "integration.deleted": "An integration is deleted",
  "integration.status_changed": "A credential's status changes (with the connection test's message)",
};
