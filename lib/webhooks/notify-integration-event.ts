import "server-only";
import type { CoreDeps } from "../deps";
import { emitIntegrationEvent, type IntegrationEvent } from "./notify";

/** The core's one call (setup, validate, delete): queue the org's webhooks and its admins' mail; never throws. */
export function notifyIntegrationEvent(deps: CoreDeps, event: IntegrationEvent): Promise<void> {
  return emitIntegrationEvent({ env: deps.env, log: deps.log, now: deps.now, webhooks: deps.webhooks, orgAdminEmails: deps.orgAdminEmails, mailQueue: deps.mailQueue }, event);
}
