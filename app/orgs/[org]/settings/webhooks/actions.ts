"use server";

import { getSessionActor } from "@/lib/auth/session";
import { createWebhook } from "@/lib/webhooks/create-webhook";
import { deleteWebhook } from "@/lib/webhooks/delete-webhook";
import { listWebhookDeliveries } from "@/lib/webhooks/list-webhook-deliveries";
import { listWebhooksWithCreators } from "@/lib/webhooks/list-webhooks";
import { orgPath, run } from "@/actions/run";

/**
 * The webhooks settings page's server actions: session → the same core use cases as the REST
 * routes (which authorize: owners and admins only) → revalidate. Arguments from the browser are
 * coerced to strings; the core checks their form.
 */
const str = (v: unknown) => (typeof v === "string" ? v : "");

export async function createWebhookAction(org: string, input: unknown) {
  const actor = await getSessionActor();
  return run(() => createWebhook({ actor, org: str(org), input }), `${orgPath(str(org))}/settings/webhooks`);
}

export async function listWebhooksAction(org: string) {
  const actor = await getSessionActor();
  return run(() => listWebhooksWithCreators({ actor, org: str(org) }));
}

export async function deleteWebhookAction(org: string, id: string) {
  const actor = await getSessionActor();
  return run(async () => {
    await deleteWebhook({ actor, org: str(org), id: str(id) });
    return null;
  }, `${orgPath(str(org))}/settings/webhooks`);
}

export async function listWebhookDeliveriesAction(org: string, id: string) {
  const actor = await getSessionActor();
  return run(async () => (await listWebhookDeliveries({ actor, org: str(org), id: str(id), limit: 50 })).deliveries);
}
