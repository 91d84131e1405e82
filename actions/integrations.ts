"use server";

import { getSessionActor } from "@/lib/auth/session";
import { publicConnectionTest } from "@/lib/errors";
import {
  deleteIntegration,
  listIntegrations,
  setupIntegration,
  updateIntegrationMetadata,
  validateIntegration,
} from "@/lib/integrations";
import { orgPath, run } from "./run";

/**
 * Integration server actions: session → the core (which does the role check through the same
 * authorizeOrgOrThrow as the REST API and parses with the same schemas) → revalidate. The org and
 * provider come from the page's URL, the identity from the session cookie, never from the payload.
 */

export async function setupIntegrationAction(org: string, provider: string, input: unknown) {
  const actor = await getSessionActor();
  return run(async () => {
    const r = await setupIntegration({ actor, org, provider, input });
    // The secret never goes back to the browser: only the sanitized integration and the test.
    return { created: r.created, integration: r.integration, connection_test: publicConnectionTest(r.connection_test), warnings: r.warnings };
  }, orgPath(org));
}

export async function validateIntegrationAction(org: string, provider: string) {
  const actor = await getSessionActor();
  return run(async () => {
    const r = await validateIntegration({ actor, org, provider });
    return { integration: r.integration, connection_test: publicConnectionTest(r.connection_test) };
  }, orgPath(org));
}

export async function listIntegrationsAction(org: string) {
  const actor = await getSessionActor();
  return run(() => listIntegrations({ actor, org }));
}

export async function updateIntegrationMetadataAction(org: string, provider: string, metadata: unknown) {
  const actor = await getSessionActor();
  return run(() => updateIntegrationMetadata({ actor, org, provider, input: { metadata } }), orgPath(org));
}

export async function deleteIntegrationAction(org: string, provider: string) {
  const actor = await getSessionActor();
  return run(async () => {
    await deleteIntegration({ actor, org, provider });
    return null;
  }, orgPath(org));
}
