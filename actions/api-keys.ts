"use server";

import { z } from "zod";
import { createOrgApiKey, listOrgApiKeys, revokeOrgApiKey } from "@/lib/auth/organizations";
import { OrgSlugSchema } from "@/lib/integrations/schemas";
import { KeyIdArg } from "./args";
import { orgPath, runAction } from "./run";

/**
 * Org API keys from the settings page: the same keys, core functions and checks as the CLI's.
 * Arguments parsed with zod (runAction) before anything runs.
 */

const CreateKeySchema = z
  .object({
    role: z.enum(["admin", "viewer", "pipeline"], { message: "must be admin, viewer or pipeline" }),
    label: z.string().trim().max(100, { message: "must be at most 100 characters" }).optional(),
  })
  .strict();

export async function createApiKeyAction(org: string, input: unknown) {
  return runAction(
    z.object({ org: OrgSlugSchema, input: CreateKeySchema }),
    { org, input },
    async ({ org, input }, actor) => {
      const { apiKey, key } = await createOrgApiKey({ actor, org, role: input.role, label: input.label || undefined });
      return { apiKey, key };
    },
    ({ org }) => `${orgPath(org)}/settings`,
  );
}

export async function listApiKeysAction(org: string) {
  return runAction(z.object({ org: OrgSlugSchema }), { org }, ({ org }, actor) => listOrgApiKeys({ actor, org }));
}

export async function revokeApiKeyAction(org: string, keyId: string) {
  return runAction(
    z.object({ org: OrgSlugSchema, keyId: KeyIdArg }),
    { org, keyId },
    async ({ org, keyId }, actor) => {
      await revokeOrgApiKey({ actor, org, keyId });
      return null;
    },
    ({ org }) => `${orgPath(org)}/settings`,
  );
}
