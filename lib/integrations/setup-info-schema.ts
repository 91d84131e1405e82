import { z } from "zod";

/** The protocol-specific part of setup-info: steps, commands, policy statements, AWS trust material. */
export const SetupInfoPartsSchema = z
  .object({
    steps: z.array(z.string()),
    commands: z.array(z.string()).optional(),
    policy_statements: z.array(z.string()).optional(),
    aws: z
      .object({
        external_id: z.string(),
        platform_principal: z.string().nullable(),
        /** null when the platform has no AWS identity: there is nothing a customer could trust yet. */
        trust_policy: z.unknown(),
        /** null likewise (it embeds the trust policy). */
        cloudformation_template: z.unknown(),
        iam_policy: z.unknown(),
        /** For the operator, when the platform has no AWS identity: what to configure. */
        note: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * `GET /integrations/{org}/{provider}/setup-info`: what a person needs before creating the
 * credential (docs, permissions and roles from the registry, plus the protocol module's part).
 * Never a secret. docs/api.md.
 */
export const SetupInfoSchema = SetupInfoPartsSchema.extend({
  org: z.string(),
  provider: z.string(),
  name: z.string(),
  category: z.string(),
  credential_type: z.string(),
  docs: z.array(z.object({ title: z.string(), url: z.string() }).strict()),
  permissions: z.array(z.string()),
  roles: z.array(z.string()),
}).strict();

export type SetupInfoParts = z.infer<typeof SetupInfoPartsSchema>;
export type SetupInfo = z.infer<typeof SetupInfoSchema>;
