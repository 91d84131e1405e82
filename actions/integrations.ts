"use server";

import { revalidatePath } from "next/cache";
import { getSessionActor } from "@/lib/auth/session";
import { AppError, publicConnectionTest } from "@/lib/errors";
import {
  deleteIntegration,
  listIntegrations,
  setupIntegration,
  updateIntegrationMetadata,
  validateIntegration,
  getDeps,
} from "@/lib/integrations";

/**
 * Server actions: session → the core (which does the role check through the same
 * authorizeOrgOrThrow as the REST API and parses with the same schemas) → revalidate. Expected
 * failures come back as plain values (Error objects cannot cross to client components);
 * unexpected ones are logged and reach the user as a generic message.
 */
export type ActionResult<T> =
  | { ok: true; data: T }
  | { ok: false; error: { code: string; message: string; fields?: Record<string, string>; connection_test?: unknown } };

async function run<T>(fn: () => Promise<T>, revalidate?: string): Promise<ActionResult<T>> {
  try {
    const data = await fn();
    if (revalidate) revalidatePath(revalidate);
    return { ok: true, data };
  } catch (e) {
    if (e instanceof AppError) return { ok: false, error: e.toBody().error };
    getDeps().log.error({ err_name: (e as Error)?.name }, "unexpected error in server action");
    return { ok: false, error: { code: "internal", message: "Something went wrong on our side; nothing was changed." } };
  }
}

const page = (org: string) => `/orgs/${org}/integrations`;

export async function setupIntegrationAction(org: string, provider: string, input: unknown) {
  const actor = await getSessionActor();
  return run(async () => {
    const r = await setupIntegration({ actor, org, provider, input });
    // The secret never goes back to the browser: only the sanitized integration and the test.
    return { created: r.created, integration: r.integration, connection_test: publicConnectionTest(r.connection_test), warnings: r.warnings };
  }, page(org));
}

export async function validateIntegrationAction(org: string, provider: string) {
  const actor = await getSessionActor();
  return run(async () => {
    const r = await validateIntegration({ actor, org, provider });
    return { integration: r.integration, connection_test: publicConnectionTest(r.connection_test) };
  }, page(org));
}

export async function listIntegrationsAction(org: string) {
  const actor = await getSessionActor();
  return run(() => listIntegrations({ actor, org }));
}

export async function updateIntegrationMetadataAction(org: string, provider: string, metadata: unknown) {
  const actor = await getSessionActor();
  return run(() => updateIntegrationMetadata({ actor, org, provider, input: { metadata } }), page(org));
}

export async function deleteIntegrationAction(org: string, provider: string) {
  const actor = await getSessionActor();
  return run(async () => {
    await deleteIntegration({ actor, org, provider });
    return null;
  }, page(org));
}
