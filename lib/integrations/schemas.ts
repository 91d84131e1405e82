import { z } from "zod";
import type { FieldDef, MetadataKeyDef, ProviderDef } from "./registry-schema";
import { CONNECTION_OUTCOMES_LIST } from "./outcomes";
import { pathDeeperThan } from "../json-depth";

/**
 * Client-safe zod schemas generated from the provider registry. The forms (zodResolver), the
 * server actions, the route handlers and /openapi.json all use these: one schema per concept.
 * Messages name what is wrong for a person and never quote the value (it may be a secret).
 */

// ------------------------------------------------------------------ credential input

const GCP_PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const GCP_SA_EMAIL = /^[^@\s]+@([a-z0-9-]+\.)*gserviceaccount\.com$/;
const PEM_PRIVATE_KEY = /^-----BEGIN (RSA |ENCRYPTED |EC )?PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END (RSA |ENCRYPTED |EC )?PRIVATE KEY-----\s*$/;

/** Registry patterns compiled once per process (the registry never changes at runtime). */
const compiled = new Map<string, RegExp>();
function re(pattern: string): RegExp {
  let r = compiled.get(pattern);
  if (!r) compiled.set(pattern, (r = new RegExp(pattern)));
  return r;
}

/**
 * The one canonical form of a PEM: JSON escapes left in by a paste (`\\n`, `\\r\\n`) and CRLF line
 * endings become LF, surrounding whitespace goes, and it ends with exactly one newline (as PEM files
 * and Google's key files do). Applied once, at the format check: what it returns is what is
 * fingerprinted, tested, encrypted and handed to the pipelines.
 */
export function canonicalPem(pem: string): string {
  return pem.replace(/\\r\\n|\\n/g, "\n").replace(/\r\n?/g, "\n").trim() + "\n";
}

/** Why a GCP key file is unacceptable, or null. Never quotes values from the file. */
export function checkGcpServiceAccount(value: unknown): { message: string } | { object: Record<string, unknown> } {
  let obj: unknown = value;
  if (typeof value === "string") {
    try {
      obj = JSON.parse(value);
    } catch {
      // JSON.parse's own message quotes the input: never surface it.
      return { message: "is not valid JSON; paste the whole key file, from { to }" };
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
    return { message: "must be the service account key file (a JSON object)" };
  }
  // A key file is two levels deep; anything far deeper is an attack on the walks that follow.
  if (pathDeeperThan(obj, 8)) return { message: "nests values more than 8 levels deep, which no key file does; upload the key file exactly as Google downloaded it" };
  const sa = obj as Record<string, unknown>;
  if (sa.type !== "service_account") {
    const kind = typeof sa.type === "string" && /^[a-z_]{1,40}$/.test(sa.type) ? ` (this file is "${sa.type}")` : "";
    return { message: `must have "type": "service_account"${kind}; upload a service account key, not user or external-account credentials` };
  }
  if (typeof sa.client_email !== "string" || !GCP_SA_EMAIL.test(sa.client_email)) {
    return { message: "must have a client_email ending in gserviceaccount.com" };
  }
  if (typeof sa.private_key !== "string" || !PEM_PRIVATE_KEY.test(canonicalPem(sa.private_key))) {
    return { message: "must have a private_key in PEM form (-----BEGIN PRIVATE KEY----- …)" };
  }
  if (typeof sa.private_key_id !== "string" || !/^[A-Za-z0-9]{8,64}$/.test(sa.private_key_id)) {
    return { message: "must have a private_key_id (the key's id, 40 hex characters)" };
  }
  if (typeof sa.project_id !== "string" || !GCP_PROJECT_ID.test(sa.project_id)) {
    return { message: "must have a project_id (6–30 lowercase letters, digits and hyphens)" };
  }
  if (sa.universe_domain !== undefined && sa.universe_domain !== "googleapis.com") {
    return { message: 'must be for the googleapis.com universe; other universe_domain values are not supported' };
  }
  return { object: { ...sa, private_key: canonicalPem(sa.private_key) } };
}

function stringField(f: FieldDef): z.ZodType<string> {
  const name = f.label;
  let s = z
    .string({ error: (iss) => (iss.input === undefined ? "is required" : "must be a string") })
    .trim()
    .min(f.required ? 1 : 0, { message: "is required" });
  if (f.max_length) s = s.max(f.max_length, { message: `must be at most ${f.max_length} characters` });
  if (f.format === "pem_private_key") {
    return s.transform((v) => (v === "" ? v : canonicalPem(v))).refine((v) => v === "" || PEM_PRIVATE_KEY.test(v), {
      message: "must be a PEM private key (-----BEGIN PRIVATE KEY----- … -----END PRIVATE KEY-----)",
    });
  }
  return s.superRefine((v, ctx) => {
    if (v === "") return;
    for (const r of f.reject ?? []) {
      if (re(r.pattern).test(v)) {
        ctx.addIssue({ code: "custom", message: r.message });
        return;
      }
    }
    if (f.pattern && !re(f.pattern).test(v)) {
      ctx.addIssue({ code: "custom", message: f.message ?? `is not a valid ${name}` });
    }
  });
}

function fieldSchema(f: FieldDef): z.ZodType<unknown> {
  if (f.format === "gcp_service_account") {
    return z.unknown().transform((v, ctx) => {
      if (v === undefined || v === null || v === "") {
        ctx.addIssue({ code: "custom", message: "is required" });
        return z.NEVER;
      }
      const r = checkGcpServiceAccount(v);
      if ("message" in r) {
        ctx.addIssue({ code: "custom", message: r.message });
        return z.NEVER;
      }
      return r.object;
    });
  }
  return stringField(f);
}

/**
 * Schemas are built once per registry entry (keyed by its `fields` or `metadata` array, which every
 * saas_<vendor> shares with the template): setup and the forms parse with the same compiled schema
 * every time.
 */
function memoizedByKey<K extends object, V>(compile: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined) cache.set(key, (v = compile(key)));
    return v;
  };
}

const credentialSchemaOf = memoizedByKey((fields: FieldDef[]) => compileCredentialSchema({ fields }));

/** The credential schema of one provider: strict (unknown fields rejected), trimmed, normalized. */
export function buildCredentialSchema(provider: Pick<ProviderDef, "fields">) {
  return credentialSchemaOf(provider.fields);
}

function compileCredentialSchema(provider: Pick<ProviderDef, "fields">) {
  const shape: Record<string, z.ZodType<unknown>> = {};
  for (const f of provider.fields) {
    const s = fieldSchema(f);
    // Optional fields: absent, null or "" all mean "not given"; they are dropped from the output.
    shape[f.name] = f.required ? s : z.preprocess((v) => (v === null || v === "" ? undefined : v), s.optional());
  }
  return z
    .object(shape)
    .strict()
    .superRefine((value, ctx) => {
      for (const f of provider.fields) {
        const rw = f.required_when;
        if (!rw) continue;
        const other = value[rw.field];
        const own = value[f.name];
        if (typeof other === "string" && re(rw.pattern).test(other) && (own === undefined || own === "")) {
          ctx.addIssue({ code: "custom", path: [f.name], message: rw.message });
        }
      }
    })
    .transform((value) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== "") out[k] = v;
      return out;
    });
}

/** Non-blocking hints: fields that pass the rules but look unlike today's credentials. */
export function credentialWarnings(provider: Pick<ProviderDef, "fields">, credential: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of provider.fields) {
    const v = credential[f.name];
    if (f.warn_pattern && typeof v === "string" && v !== "" && !re(f.warn_pattern).test(v)) {
      out[f.name] = f.warn_message ?? "looks unlike this provider's current format; check that you pasted the right value";
    }
  }
  return out;
}

// ------------------------------------------------------------------ metadata

export const LABEL_MAX = 100;
export const TAGS_MAX = 20;

function metadataValueSchema(m: MetadataKeyDef): z.ZodType<unknown> {
  let item = z.string({ error: "must be a string" }).trim().min(1, { message: "must not be empty" }).max(m.max_length ?? 1024, {
    message: `must be at most ${m.max_length ?? 1024} characters`,
  });
  if (m.pattern) item = item.regex(re(m.pattern), { message: m.message ?? "is not valid" });
  if (m.type === "string_list") return z.array(item, { error: "must be a list of strings" }).max(100, { message: "must have at most 100 entries" });
  return item;
}

const metadataSchemaOf = memoizedByKey((metadata: MetadataKeyDef[]) => compileMetadataSchema({ metadata }));

/** Metadata of one provider: label, tags, plus the provider's own keys; unknown keys rejected. Built once per entry. */
export function buildMetadataSchema(provider: Pick<ProviderDef, "metadata">) {
  return metadataSchemaOf(provider.metadata);
}

function compileMetadataSchema(provider: Pick<ProviderDef, "metadata">) {
  const shape: Record<string, z.ZodType<unknown>> = {
    label: z.string({ error: "must be a string" }).trim().max(LABEL_MAX, { message: `must be at most ${LABEL_MAX} characters` }).optional(),
    tags: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,64}$/, { message: "tag names must be 1–64 letters, digits or _.:/=+@-" }),
        z.string({ error: "tag values must be strings" }).max(256, { message: "tag values must be at most 256 characters" }),
        { error: "must be an object of string → string" },
      )
      .refine((t) => Object.keys(t).length <= TAGS_MAX, { message: `must have at most ${TAGS_MAX} entries` })
      .optional(),
  };
  for (const m of provider.metadata) shape[m.key] = metadataValueSchema(m).optional();
  return z.object(shape).strict();
}

// ------------------------------------------------------------------ request bodies

export { OrgSlugSchema } from "../auth/org-slug";

export const SetupBodySchema = z
  .object({
    credential: z.record(z.string(), z.unknown(), { error: "must be an object of credential fields" }),
    metadata: z.record(z.string(), z.unknown(), { error: "must be an object" }).optional(),
  })
  .strict();
export type SetupBody = z.infer<typeof SetupBodySchema>;

export const MetadataBodySchema = z
  .object({ metadata: z.record(z.string(), z.unknown(), { error: "must be an object" }) })
  .strict();

// ------------------------------------------------------------------ responses

export const OutcomeSchema = z.enum(CONNECTION_OUTCOMES_LIST);

/** One check of a connection test ("authenticate", "read_costs", …). */
export const CheckResultSchema = z.object({
  name: z.string(),
  outcome: OutcomeSchema,
  duration_ms: z.number().int().nonnegative(),
  /** Written for a person: what is wrong and what to do. Never echoes the secret. Absent when ok. */
  message: z.string().optional(),
  /** Seconds the provider asked us to wait (rate_limited). */
  retry_after_s: z.number().optional(),
});

/** A connection test's result as responses show it. */
export const ConnectionTestResultSchema = z.object({
  outcome: OutcomeSchema,
  duration_ms: z.number().int().nonnegative(),
  checks: z.array(CheckResultSchema),
  retry_after_s: z.number().optional(),
});

/**
 * The same result inside the server (lib/integrations/protocols/types.ts infers its types from
 * here): what the test found out besides the verdict, stored on the row, never all of it in a
 * response (lib/errors.ts `publicConnectionTest`).
 */
export const ConnectionTestVerdictSchema = ConnectionTestResultSchema.extend({
  /** Identity the test discovered (OpenAI org, Anthropic org, AWS account...), or null. */
  account: z.object({ id: z.string(), name: z.string().nullable().optional() }).nullable(),
  /** What kind of key it is ("admin", "project", "service_account", "standard", "auth"...), or null. */
  key_kind: z.string().nullable(),
  /**
   * Non-blocking advice keyed like the setup response's `warnings` (e.g.
   * "metadata.billing_export_table"): the credential passed, but something should be added.
   */
  warnings: z.record(z.string(), z.string()).optional(),
});

export const IntegrationStatusSchema = z.enum(["active", "invalid", "expired", "pending"]);

export const LastErrorSchema = z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable();

/** The integration object of every response that returns one. No secret can be declared here. */
export const IntegrationSchema = z.object({
  org: z.string(),
  provider: z.string(),
  name: z.string(),
  category: z.enum(["cloud", "genai", "saas"]),
  credential_type: z.string(),
  status: IntegrationStatusSchema,
  fingerprint: z.string().regex(/^[0-9a-f]{8}$/),
  version: z.number().int().positive(),
  key_kind: z.string().nullable(),
  account: z.object({ id: z.string(), name: z.string().nullable().optional() }).nullable(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  updated_at: z.string(),
  last_validated_at: z.string().nullable(),
  last_error: LastErrorSchema,
});
export type Integration = z.infer<typeof IntegrationSchema>;

/** What a setup answer adds to the integration object (the route parses only these: the core parsed the integration). */
export const SetupOutcomeSchema = z.object({
  connection_test: ConnectionTestResultSchema,
  warnings: z.record(z.string(), z.string()).optional(),
});

export const SetupResponseSchema = IntegrationSchema.extend(SetupOutcomeSchema.shape);
export type SetupResponse = z.infer<typeof SetupResponseSchema>;

export const ValidateResponseSchema = IntegrationSchema.extend({ connection_test: ConnectionTestResultSchema });

export const IntegrationListSchema = z.object({ org: z.string(), integrations: z.array(IntegrationSchema) });

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    fields: z.record(z.string(), z.string()).optional(),
    connection_test: ConnectionTestResultSchema.optional(),
    request_id: z.string().optional(),
  }),
});

// ------------------------------------------------------------------ helpers

export { isEchoableName, issuesToFields } from "../zod-fields";
