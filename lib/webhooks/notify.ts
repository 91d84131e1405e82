import "server-only";
import type { Logger } from "pino";
import type { Env } from "../env";
import type { Integration } from "../integrations/schemas";
import { newMailId, type MailQueue } from "../mail/mail-queue";
import { newMessageId } from "./signing";
import type { WebhookEventType } from "./schemas";
import type { WebhookStore } from "./webhook-store";
import { kickWorker } from "../queue/worker-registry";

/** What the core reports; the payload is built from these fields only (never a credential). */
export type IntegrationEvent =
  | { type: "integration.created" | "integration.replaced"; integration: Integration; previousFingerprint?: string | null }
  | { type: "integration.status_changed"; integration: Integration; previousStatus: string; outcome: string; message: string | null }
  | { type: "integration.deleted"; org: string; provider: string; fingerprint: string; version: number };

export interface NotifyDeps {
  env: Env;
  log: Logger;
  now: () => number;
  webhooks: WebhookStore;
  /** Emails of the org's owners and admins (Better Auth members); [] for an org without UI members. */
  orgAdminEmails: (org: string) => Promise<string[]>;
  /** Where the admins' mail is queued (lib/mail/mail-queue.ts; the mail worker sends it); absent: no mail. */
  mailQueue?: MailQueue;
}

/**
 * The webhook body: Standard Webhooks' recommended shape `{type, timestamp, data}`
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, "Payload structure").
 * `data` holds the public integration object (fingerprint, status, version, account, metadata,
 * last_error) and what changed: never a credential field.
 */
export function buildPayload(event: IntegrationEvent, at: string): { org: string; provider: string; body: string } {
  let data: Record<string, unknown>;
  if (event.type === "integration.deleted") {
    data = { org: event.org, provider: event.provider, fingerprint: event.fingerprint, version: event.version, deleted_at: at };
  } else {
    const i = event.integration;
    data = { org: i.org, provider: i.provider, fingerprint: i.fingerprint, version: i.version, status: i.status };
    if (event.type === "integration.status_changed") Object.assign(data, { previous_status: event.previousStatus, outcome: event.outcome, message: event.message });
    else if (event.type === "integration.replaced") data.previous_fingerprint = event.previousFingerprint ?? null;
    data.integration = i;
  }
  return { org: String(data.org), provider: String(data.provider), body: JSON.stringify({ type: event.type, timestamp: at, data }) };
}

/** A bounded wait: the request that caused an event never waits long for its notifications. */
const ENQUEUE_WAIT_MS = 2_000;

/**
 * Report an integration event: queue one delivery per subscribed endpoint of the org and one mail
 * per owner and admin (durable, in the auth database; the workers send and retry them), and wake
 * this process's workers. Never throws and never waits for a delivery or a mail, only (at most 2 s)
 * for the queue inserts: a failure here is logged, and the change that caused the event stands.
 */
export async function emitIntegrationEvent(deps: NotifyDeps, event: IntegrationEvent): Promise<void> {
  const at = new Date(deps.now()).toISOString();
  let payload: ReturnType<typeof buildPayload>;
  try {
    payload = buildPayload(event, at);
  } catch {
    return;
  }
  const enqueue = (async () => {
    const endpoints = (await deps.webhooks.listEndpoints(payload.org)).filter((e) => e.events.includes(event.type as WebhookEventType));
    if (endpoints.length === 0) return;
    await deps.webhooks.enqueue(
      endpoints.map((e) => ({ id: newMessageId(), endpointId: e.id, org: payload.org, event: event.type, provider: payload.provider, payload: payload.body, createdAt: at, nextAttemptAt: at })),
    );
    kickWorker("webhooks");
  })().catch((e: unknown) => {
    deps.log.error({ err_name: (e as Error)?.name, event: event.type, org: payload.org }, "could not queue webhook deliveries");
  });
  const mail = queueAdminMail(deps, event, payload.org, payload.provider, at);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all([enqueue, mail]), new Promise<void>((r) => (timer = setTimeout(r, ENQUEUE_WAIT_MS)))]);
  clearTimeout(timer);
}

/** The mail to an org's owners and admins: what happened, the fingerprint and the test's message. */
export function buildMail(event: IntegrationEvent, org: string, provider: string, baseUrl: string | undefined): { subject: string; text: string } {
  const link = baseUrl ? `${baseUrl}/orgs/${org}/integrations/${provider}` : null;
  let subject: string;
  const lines: string[] = [];
  switch (event.type) {
    case "integration.created":
      subject = `${provider} connected in ${org}`;
      lines.push(`A ${provider} credential (fingerprint ${event.integration.fingerprint}) was connected to ${org}; its status is ${event.integration.status}.`);
      break;
    case "integration.replaced":
      subject = `${provider} credential replaced in ${org}`;
      lines.push(
        `The ${provider} credential of ${org} was replaced: fingerprint ${event.previousFingerprint ?? "?"} → ${event.integration.fingerprint} (version ${event.integration.version}); its status is ${event.integration.status}.`,
      );
      break;
    case "integration.status_changed":
      subject = `${provider} in ${org} is now ${event.integration.status}`;
      lines.push(`The ${provider} credential of ${org} (fingerprint ${event.integration.fingerprint}) changed from ${event.previousStatus} to ${event.integration.status}.`);
      if (event.message) lines.push("", `Connection test (${event.outcome}): ${event.message}`);
      break;
    case "integration.deleted":
      subject = `${provider} removed from ${org}`;
      lines.push(`The ${provider} integration of ${org} (fingerprint ${event.fingerprint}, version ${event.version}) was deleted.`);
      break;
  }
  if (link) lines.push("", link);
  lines.push("", "You get this mail as an owner or admin of the organization.");
  return { subject: `[Credential manager] ${subject}`, text: lines.join("\n") };
}

/** One queued mail per owner and admin of the org (no address in the log: only how many). */
async function queueAdminMail(deps: NotifyDeps, event: IntegrationEvent, org: string, provider: string, at: string): Promise<void> {
  if (!deps.mailQueue) return;
  try {
    const to = [...new Set(await deps.orgAdminEmails(org))];
    if (to.length === 0) return;
    const msg = buildMail(event, org, provider, deps.env.BETTER_AUTH_URL);
    await deps.mailQueue.enqueue(to.map((addr) => ({ id: newMailId(), org, event: event.type, to: addr, subject: msg.subject, text: msg.text, createdAt: at })));
    kickWorker("mail");
    deps.log.info({ event: event.type, org, provider, recipients: to.length }, "notification mail queued");
  } catch (e) {
    deps.log.error({ err_name: (e as Error)?.name, event: event.type, org }, "could not queue the notification mail");
  }
}
