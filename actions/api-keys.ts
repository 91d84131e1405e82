"use server";

import { z } from "zod";
import { getSessionActor } from "@/lib/auth/session";
import { createOrgApiKey, listOrgApiKeys, revokeOrgApiKey } from "@/lib/auth/organizations";
import { AppError } from "@/lib/errors";
import { issuesToFields } from "@/lib/integrations/schemas";
import { orgPath, run } from "./run";

/** Org API keys from the settings page: the same keys, core functions and checks as the CLI's. */

const CreateKeySchema = z
  .object({
    role: z.enum(["admin", "viewer", "pipeline"], { message: "must be admin, viewer or pipeline" }),
    label: z.string().trim().max(100, { message: "must be at most 100 characters" }).optional(),
  })
  .strict();

export async function createApiKeyAction(org: string, input: unknown) {
  const actor = await getSessionActor();
  return run(async () => {
    const parsed = CreateKeySchema.safeParse(input);
    if (!parsed.success) throw new AppError("invalid_request", "The key needs a role (admin, viewer or pipeline) and a label of at most 100 characters.", { fields: issuesToFields(parsed.error) });
    const { apiKey, key } = await createOrgApiKey({ actor, org, role: parsed.data.role, label: parsed.data.label || undefined });
    return { apiKey, key };
  }, `${orgPath(org)}/settings`);
}

export async function listApiKeysAction(org: string) {
  const actor = await getSessionActor();
  return run(() => listOrgApiKeys({ actor, org }));
}

export async function revokeApiKeyAction(org: string, keyId: string) {
  const actor = await getSessionActor();
  return run(async () => {
    await revokeOrgApiKey({ actor, org, keyId: String(keyId) });
    return null;
  }, `${orgPath(org)}/settings`);
}
