import { z } from "zod";

/**
 * Client-safe schemas for webhook endpoints: the REST routes, the settings page's form, its
 * server actions and /openapi.json all use these. The signing secret appears in exactly one
 * schema (WebhookCreatedSchema): the answer to the create call, shown once.
 */

// The event list and labels live in ./events.ts (no zod), so the settings page can use them
// without loading zod in the browser; re-exported here for everything else.
import { WEBHOOK_EVENTS } from "./events";
export { WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS, type WebhookEventType } from "./events";

/** At most this many endpoints per org: bounds the fan-out of one event. */
export const MAX_WEBHOOKS_PER_ORG = 20;
export const WEBHOOK_URL_MAX = 2048;

export const WebhookUrlSchema = z
  .string({ error: (iss) => (iss.input === undefined ? "is required" : "must be a string") })
  .trim()
  .min(1, { message: "is required" })
  .max(WEBHOOK_URL_MAX, { message: `must be at most ${WEBHOOK_URL_MAX} characters` });

export const CreateWebhookBodySchema = z
  .object({
    url: WebhookUrlSchema,
    events: z
      .array(z.enum(WEBHOOK_EVENTS, { message: `must be one of ${WEBHOOK_EVENTS.join(", ")}` }), {
        error: (iss) => (iss.input === undefined ? "is required" : "must be an array of event names"),
      })
      .min(1, { message: "must name at least one event" })
      .max(WEBHOOK_EVENTS.length, { message: "lists an event more than once" })
      .refine((a) => new Set(a).size === a.length, { message: "lists an event more than once" }),
  })
  .strict();
export type CreateWebhookBody = z.infer<typeof CreateWebhookBodySchema>;

export const WebhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  created_at: z.string(),
});
export type WebhookView = z.infer<typeof WebhookSchema>;

/** The create answer: the only place the signing secret ever leaves the server. */
export const WebhookCreatedSchema = WebhookSchema.extend({
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/),
});

export const WebhookListSchema = z.object({ webhooks: z.array(WebhookSchema) });

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event's delivery to one endpoint, as the delivery log shows it. */
export const WebhookDeliverySchema = z.object({
  id: z.string(),
  webhook_id: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  provider: z.string().nullable(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  last_response_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  last_attempt_at: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
});
export type WebhookDeliveryView = z.infer<typeof WebhookDeliverySchema>;

export const WebhookDeliveryListSchema = z.object({ deliveries: z.array(WebhookDeliverySchema) });
