import { z } from "zod";

/**
 * `POST /integrations/{org}/{provider}/access`: what a pipeline needs to call the provider.
 * `credentials` holds short-lived material (AWS STS credentials, a Google or Azure access token)
 * with `expires_at`, or the stored key where the provider has nothing shorter-lived
 * (`expires_at` null). docs/security.md, "Pipeline access".
 */
export const AccessResponseSchema = z
  .object({
    org: z.string(),
    provider: z.string(),
    fingerprint: z.string(),
    version: z.number().int(),
    kind: z.enum(["aws", "api_key", "google_access_token", "azure_access_token", "oci_request_signing", "manual"]),
    credentials: z.record(z.string(), z.unknown()),
    expires_at: z.string().nullable(),
  })
  .strict();

export type AccessResponse = z.infer<typeof AccessResponseSchema>;
