"use server";

import { z } from "zod";
import { publicConnectionTest } from "@/lib/errors";
import {
  deleteIntegration,
  listIntegrations,
  setupIntegration,
  updateIntegrationMetadata,
  validateIntegration,
} from "@/lib/integrations";
import { OrgSlugSchema } from "@/lib/integrations/schemas";
import { orgPath, runAction } from "./run";

/**
 * Integration server actions: arguments parsed with zod (runAction) → session → the core (which
 * does the role check through the same authorizeOrgOrThrow as the REST API and parses the
 * credential and metadata with the same schemas) → revalidate. The org and provider come from the
 * page's URL, the identity from the session cookie, never from the payload.
 */

const Provider = z.string({ error: "must be a provider id" }).regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: "must be a provider id such as gcp or saas_datadog" });
const Org = OrgSlugSchema;
const OrgArgs = z.object({ org: Org });
const OrgProviderArgs = z.object({ org: Org, provider: Provider });
const OrgProviderInputArgs = z.object({ org: Org, provider: Provider, input: z.unknown() });

export async function setupIntegrationAction(org: string, provider: string, input: unknown) {
  return runAction(
    OrgProviderInputArgs,
    { org, provider, input },
    async ({ org, provider, input }, actor) => {
      const r = await setupIntegration({ actor, org, provider, input });
      // The secret never goes back to the browser: only the sanitized integration and the test.
      return { created: r.created, integration: r.integration, connection_test: publicConnectionTest(r.connection_test), warnings: r.warnings };
    },
    ({ org }) => orgPath(org),
  );
}

export async function validateIntegrationAction(org: string, provider: string) {
  return runAction(
    OrgProviderArgs,
    { org, provider },
    async ({ org, provider }, actor) => {
      const r = await validateIntegration({ actor, org, provider });
      return { integration: r.integration, connection_test: publicConnectionTest(r.connection_test) };
    },
    ({ org }) => orgPath(org),
  );
}

export async function listIntegrationsAction(org: string) {
  return runAction(OrgArgs, { org }, ({ org }, actor) => listIntegrations({ actor, org }));
}

export async function updateIntegrationMetadataAction(org: string, provider: string, metadata: unknown) {
  return runAction(
    OrgProviderInputArgs,
    { org, provider, input: metadata },
    ({ org, provider, input }, actor) => updateIntegrationMetadata({ actor, org, provider, input: { metadata: input } }),
    ({ org }) => orgPath(org),
  );
}

export async function deleteIntegrationAction(org: string, provider: string) {
  return runAction(
    OrgProviderArgs,
    { org, provider },
    async ({ org, provider }, actor) => {
      await deleteIntegration({ actor, org, provider });
      return null;
    },
    ({ org }) => orgPath(org),
  );
}
