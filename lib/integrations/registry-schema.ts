import { z } from "zod";

/**
 * The shape of configs/system/providers.yml. Client-safe (no fs): the forms get provider
 * definitions as props and build their schemas with lib/integrations/schemas.ts.
 */

export const CONNECTION_TEST_KINDS = [
  "gcp_service_account",
  "aws_access_keys",
  "aws_assume_role",
  "azure_service_principal",
  "azure_openai",
  "oci_api_key",
  "openai",
  "anthropic",
  "gemini",
  "manual",
] as const;
export type ConnectionTestKind = (typeof CONNECTION_TEST_KINDS)[number];

export const CATEGORY_IDS = ["cloud", "genai", "saas"] as const;
export type CategoryId = (typeof CATEGORY_IDS)[number];

/** Environment variables a provider endpoint may be overridden with (docs/operations.md, "Provider endpoints"). */
export const ENDPOINT_ENV_VARS = [
  "OPENAI_API_BASE",
  "ANTHROPIC_API_BASE",
  "GEMINI_API_BASE",
  "GOOGLE_OAUTH_TOKEN_URL",
  "GOOGLE_CRM_API_BASE",
  "GOOGLE_BIGQUERY_API_BASE",
  "GOOGLE_VERTEX_API_BASE",
  "AWS_STS_ENDPOINT",
  "AWS_CE_ENDPOINT",
  "AWS_BEDROCK_ENDPOINT",
  "AZURE_AUTHORITY_HOST",
  "AZURE_MANAGEMENT_BASE",
  "AZURE_OPENAI_ENDPOINT_OVERRIDE",
  "OCI_IDENTITY_ENDPOINT",
  "OCI_USAGE_ENDPOINT",
] as const;
export type EndpointEnvVar = (typeof ENDPOINT_ENV_VARS)[number];

const regexString = z.string().superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch {
    ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${s}` });
  }
});

const fieldName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be snake_case");

export const FieldDefSchema = z
  .object({
    name: fieldName,
    label: z.string().min(1),
    type: z.enum(["text", "secret", "textarea", "json-file"]),
    required: z.boolean(),
    secret: z.boolean(),
    pattern: regexString.optional(),
    message: z.string().optional(),
    reject: z.array(z.object({ pattern: regexString, message: z.string() }).strict()).optional(),
    warn_pattern: regexString.optional(),
    warn_message: z.string().optional(),
    required_when: z
      .object({ field: fieldName, pattern: regexString, message: z.string() })
      .strict()
      .optional(),
    format: z.enum(["gcp_service_account", "pem_private_key"]).optional(),
    max_length: z.number().int().positive().optional(),
    example: z.string().optional(),
    help: z.string().optional(),
    /**
     * UI hint: keys of a JSON document a person may paste (e.g. what `az ad sp create-for-rbac`
     * prints) that fill this field. The form offers the paste box only when some field has them.
     */
    paste_keys: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/)).optional(),
  })
  .strict()
  .refine((f) => !f.pattern || f.message, { message: "a field with a pattern needs a message", path: ["message"] })
  .refine((f) => f.type !== "secret" || f.secret, { message: "a field of type secret must be marked secret: true", path: ["secret"] });
export type FieldDef = z.infer<typeof FieldDefSchema>;

export const MetadataKeyDefSchema = z
  .object({
    key: fieldName,
    label: z.string().min(1),
    type: z.enum(["string", "string_list"]),
    pattern: regexString.optional(),
    message: z.string().optional(),
    max_length: z.number().int().positive().optional(),
  })
  .strict()
  .refine((m) => !m.pattern || m.message, { message: "a metadata key with a pattern needs a message", path: ["message"] })
  .refine((m) => m.key !== "label" && m.key !== "tags", { message: "label and tags are common to every provider" });
export type MetadataKeyDef = z.infer<typeof MetadataKeyDefSchema>;

const EndpointDefSchema = z
  .object({
    default: z.string(),
    /** The override variable (docs/operations.md, "Provider endpoints"). A provider added by YAML alone may have none: then the default is used as is. */
    env: z.enum(ENDPOINT_ENV_VARS).optional(),
    /** Values for `{param}` placeholders the credential leaves empty. */
    param_defaults: z.record(z.string(), z.string()).optional(),
    /** The URL to use when a placeholder's value is "global" (e.g. Vertex AI's global endpoint). */
    global_url: z.string().optional(),
  })
  .strict();

export const ProviderDefSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]{1,40}$/),
    template: z.boolean().optional(),
    id_pattern: regexString.optional(),
    name: z.string().min(1),
    category: z.enum(CATEGORY_IDS),
    credential_type: z.string().regex(/^[a-z_]+$/),
    credential_type_label: z.string().min(1),
    description: z.string().min(1),
    fields: z.array(FieldDefSchema).min(1),
    metadata: z.array(MetadataKeyDefSchema),
    connection_test: z
      .object({
        kind: z.enum(CONNECTION_TEST_KINDS),
        checks: z.array(z.object({ name: fieldName, description: z.string() }).strict()).min(1),
      })
      .strict(),
    cost_permissions: z.array(z.string()),
    /** The predefined role that grants each permission, for messages that say what to grant. */
    permission_roles: z.record(z.string(), z.string()).optional(),
    roles: z.array(z.string()).optional(),
    docs: z.array(z.object({ title: z.string(), url: z.string().url() }).strict()),
    rate_limits: z
      .object({
        requests_per_minute: z.number().int().positive(),
        scope: z.enum(["credential", "org"]).optional(),
        /** Credential field naming the provider-side scope the limit applies to (e.g. subscription_id). */
        scope_field: fieldName.optional(),
        retry_headers: z.array(z.string()),
      })
      .strict(),
    endpoints: z.record(z.string(), EndpointDefSchema),
    allowed_hosts: z.array(regexString).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const names = new Set<string>();
    p.fields.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: "custom", path: ["fields", i, "name"], message: `duplicate field ${f.name}` });
      names.add(f.name);
    });
    p.fields.forEach((f, i) => {
      if (f.required_when && !names.has(f.required_when.field)) {
        ctx.addIssue({ code: "custom", path: ["fields", i, "required_when", "field"], message: `field ${f.name}: required_when names unknown field ${f.required_when.field}` });
      }
    });
    if (p.template && !p.id_pattern) ctx.addIssue({ code: "custom", path: ["id_pattern"], message: "a template provider needs id_pattern" });
  });
export type ProviderDef = z.infer<typeof ProviderDefSchema>;

/**
 * Static route segments beside `/integrations/{org}/{provider}` (app/integrations/[org]/webhooks,
 * …/audit): Next routes a static segment before a dynamic one, so a provider with one of these ids
 * could never be reached. No registry id, and no template pattern, may take them.
 */
export const RESERVED_PROVIDER_IDS = ["webhooks", "audit"] as const;

/** A pattern that does not compile matches nothing here (its own field reports it). */
function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

export const RegistrySchema = z
  .object({
    version: z.literal(1),
    categories: z.record(z.enum(CATEGORY_IDS), z.object({ name: z.string() }).strict()),
    providers: z.array(ProviderDefSchema).min(1),
  })
  .strict()
  .superRefine((r, ctx) => {
    const ids = new Set<string>();
    r.providers.forEach((p, i) => {
      if (ids.has(p.id)) ctx.addIssue({ code: "custom", path: ["providers", i, "id"], message: `duplicate provider id ${p.id}` });
      ids.add(p.id);
      for (const reserved of RESERVED_PROVIDER_IDS) {
        if (p.id === reserved || (p.id_pattern && safeTest(p.id_pattern, reserved))) {
          ctx.addIssue({ code: "custom", path: ["providers", i, "id"], message: `provider ${p.id} would take the reserved route segment "${reserved}"` });
        }
      }
    });
  });
export type Registry = z.infer<typeof RegistrySchema>;

/** A concrete provider: a registry entry, or a `saas_<vendor>` instance of the SaaS template. */
export interface ResolvedProvider extends ProviderDef {
  /** The concrete id (e.g. "saas_datadog"); `id` of a template instance is the concrete id too. */
  id: string;
  /** The registry entry it comes from ("saas" for saas_<vendor>). */
  registryId: string;
}
