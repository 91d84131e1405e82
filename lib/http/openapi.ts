import { z } from "zod";
import { getRegistry } from "../integrations/registry";
import { resolveProvider } from "../integrations/registry";
import {
  buildCredentialSchema,
  buildMetadataSchema,
  ErrorBodySchema,
  IntegrationListSchema,
  IntegrationSchema,
  SetupResponseSchema,
  ValidateResponseSchema,
} from "../integrations/schemas";
import { ERROR_STATUS } from "../errors";
import { ORG_SLUG_RE } from "../auth/org-slug";
import { CreateWebhookBodySchema, WebhookCreatedSchema, WebhookDeliveryListSchema, WebhookListSchema } from "../webhooks/schemas";
import { AUDIT_ACTIONS, AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AuditPageSchema } from "../audit/events";
import { AccessResponseSchema } from "../integrations/access-schema";
import { SetupInfoSchema } from "../integrations/setup-info-schema";

type JsonSchema = Record<string, unknown>;

function toJson(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** The OpenAPI 3.1 document, built from the registry and the schemas the routes parse with. */
export function buildOpenApiDocument() {
  const registry = getRegistry();
  const schemas: Record<string, JsonSchema> = {
    Integration: toJson(IntegrationSchema, "output"),
    IntegrationList: toJson(IntegrationListSchema, "output"),
    SetupResponse: toJson(SetupResponseSchema, "output"),
    ValidateResponse: toJson(ValidateResponseSchema, "output"),
    SetupInfo: toJson(SetupInfoSchema, "output"),
    Error: toJson(ErrorBodySchema, "output"),
    CreateWebhook: toJson(CreateWebhookBodySchema, "input"),
    WebhookCreated: toJson(WebhookCreatedSchema, "output"),
    WebhookList: toJson(WebhookListSchema, "output"),
    WebhookDeliveryList: toJson(WebhookDeliveryListSchema, "output"),
    AuditPage: toJson(AuditPageSchema, "output"),
    AccessResponse: toJson(AccessResponseSchema, "output"),
  };
  const setupVariants: JsonSchema[] = [];
  const metadataVariants: JsonSchema[] = [];
  for (const p of registry.providers) {
    const concrete = p.template ? resolveProvider("saas_example", registry) ?? p : p;
    const cred = toJson(buildCredentialSchema(concrete), "input");
    const meta = toJson(buildMetadataSchema(concrete), "input");
    const credName = `Credential_${p.id}`;
    const metaName = `Metadata_${p.id}`;
    schemas[credName] = { ...cred, title: `${p.name}: ${p.credential_type_label}` };
    schemas[metaName] = { ...meta, title: `${p.name} metadata` };
    setupVariants.push({
      type: "object",
      title: `Setup ${p.id}`,
      additionalProperties: false,
      required: ["credential"],
      properties: { credential: { $ref: `#/components/schemas/${credName}` }, metadata: { $ref: `#/components/schemas/${metaName}` } },
    });
    metadataVariants.push({
      type: "object",
      title: `Metadata ${p.id}`,
      additionalProperties: false,
      required: ["metadata"],
      properties: { metadata: { $ref: `#/components/schemas/${metaName}` } },
    });
  }
  const err = (codes: string[]) =>
    Object.fromEntries(
      [...new Set(codes.map((c) => ERROR_STATUS[c as keyof typeof ERROR_STATUS]))].map((status) => [
        String(status),
        {
          description: codes.filter((c) => ERROR_STATUS[c as keyof typeof ERROR_STATUS] === status).join(", "),
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      ]),
    );
  const params = (withProvider: boolean) => [
    { name: "org", in: "path", required: true, schema: { type: "string", pattern: ORG_SLUG_RE.source } },
    ...(withProvider
      ? [{ name: "provider", in: "path", required: true, description: "A registry id, or saas_<vendor>", schema: { type: "string" } }]
      : []),
  ];
  const ok = (status: string, ref: string, description: string) => ({
    [status]: { description, content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } },
  });
  const authErrors = ["unauthenticated", "forbidden", "org_not_found"];
  return {
    openapi: "3.1.0",
    info: {
      title: "FinOps credential manager",
      version: "1.0.0",
      description: "Validate, encrypt, store and serve an organization's cloud and GenAI provider credentials. Secrets are never returned.",
    },
    servers: [{ url: "/" }],
    security: [{ apiKey: [] }, { bearer: [] }],
    paths: {
      "/integrations/{org}/{provider}/setup": {
        post: {
          summary: "Format check → connection test → encrypt → store",
          parameters: params(true),
          requestBody: { required: true, content: { "application/json": { schema: { oneOf: setupVariants } } } },
          responses: {
            ...ok("201", "SetupResponse", "Created"),
            ...ok("200", "SetupResponse", "Replaced (version incremented)"),
            ...err([...authErrors, "invalid_request", "invalid_format", "invalid_metadata", "unknown_provider", "conflict", "payload_too_large", "connection_test_failed", "rate_limited", "provider_unreachable", "encryption_unavailable", "provider_timeout"]),
          },
        },
      },
      "/integrations/{org}/{provider}/validate": {
        post: {
          summary: "Decrypt the stored credential, test it, update its status",
          parameters: params(true),
          responses: {
            ...ok("200", "ValidateResponse", "Tested; status updated"),
            ...err([...authErrors, "unknown_provider", "integration_not_found", "conflict", "rate_limited", "provider_unreachable", "encryption_unavailable", "provider_timeout"]),
          },
        },
      },
      "/integrations/{org}/{provider}/setup-info": {
        get: {
          summary: "What to prepare before creating the credential: docs, permissions, roles, steps, commands (for AWS roles the external ID and trust policy); never a secret",
          parameters: params(true),
          responses: {
            ...ok("200", "SetupInfo", "What to prepare"),
            ...err([...authErrors, "unknown_provider", "storage_unavailable"]),
          },
        },
      },
      "/integrations/{org}": {
        get: {
          summary: "List the org's integrations (no secrets)",
          parameters: params(false),
          responses: { ...ok("200", "IntegrationList", "The integrations"), ...err([...authErrors, "storage_unavailable"]) },
        },
      },
      "/integrations/{org}/{provider}": {
        delete: {
          summary: "Remove the integration and its ciphertext",
          parameters: params(true),
          responses: { "204": { description: "Deleted" }, ...err([...authErrors, "unknown_provider", "integration_not_found", "conflict", "storage_unavailable"]) },
        },
      },
      "/integrations/{org}/{provider}/metadata": {
        put: {
          summary: "Replace metadata, validated per provider",
          parameters: params(true),
          requestBody: { required: true, content: { "application/json": { schema: { oneOf: metadataVariants } } } },
          responses: {
            ...ok("200", "Integration", "Updated"),
            ...err([...authErrors, "invalid_request", "invalid_metadata", "unknown_provider", "integration_not_found", "payload_too_large", "storage_unavailable"]),
          },
        },
      },
      "/integrations/{org}/{provider}/access": {
        post: {
          summary: "For a pipeline key only: short-lived credentials (AWS STS, Google and Azure access tokens) with expires_at, else the stored key; audited",
          description: "Only an org API key with the pipeline role; admin and viewer keys get 403, and a pipeline key gets 403 on every other route. No body.",
          parameters: params(true),
          responses: {
            ...ok("200", "AccessResponse", "What the pipeline calls the provider with"),
            ...err([...authErrors, "unknown_provider", "integration_not_found", "rate_limited", "provider_unreachable", "encryption_unavailable", "storage_unavailable"]),
          },
        },
      },
      "/integrations/{org}/audit": {
        get: {
          summary: "Audit events (owner and admin keys only), newest first, cursor pagination",
          description:
            "Every change and credential access, one event each, whichever way it came in (REST, web UI, CLI, pipeline access, scheduled runs). Secrets never appear: only fingerprints. Viewer and pipeline keys get 403.",
          parameters: [
            ...params(false),
            { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: AUDIT_MAX_LIMIT, default: AUDIT_DEFAULT_LIMIT } },
            { name: "cursor", in: "query", required: false, description: "next_cursor of the previous page", schema: { type: "string" } },
            { name: "provider", in: "query", required: false, schema: { type: "string" } },
            { name: "action", in: "query", required: false, schema: { type: "string", enum: [...AUDIT_ACTIONS] } },
          ],
          responses: { ...ok("200", "AuditPage", "A page of events"), ...err([...authErrors, "invalid_request", "storage_unavailable"]) },
        },
      },
      "/integrations/{org}/webhooks": {
        get: {
          summary: "The org's webhook endpoints (owner and admin keys; secrets never included)",
          parameters: params(false),
          responses: { ...ok("200", "WebhookList", "The endpoints"), ...err([...authErrors, "storage_unavailable"]) },
        },
        post: {
          summary: "Add a webhook endpoint: https, a public host; the Standard Webhooks signing secret (whsec_…) is in this answer only",
          description:
            "Events: integration.created, integration.replaced, integration.deleted, integration.status_changed. Deliveries carry webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256), and are retried with exponential backoff for 24 hours.",
          parameters: params(false),
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/CreateWebhook" } } } },
          responses: { ...ok("201", "WebhookCreated", "Created; copy the secret now"), ...err([...authErrors, "invalid_request", "payload_too_large"]) },
        },
      },
      "/integrations/{org}/webhooks/{id}": {
        delete: {
          summary: "Remove a webhook endpoint and its delivery log",
          parameters: [...params(false), { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^wh_[0-9a-f]{16}$" } }],
          responses: { "204": { description: "Deleted" }, ...err([...authErrors, "not_found"]) },
        },
      },
      "/integrations/{org}/webhooks/{id}/deliveries": {
        get: {
          summary: "The endpoint's delivery log, newest first: status, attempts, last response code, next attempt",
          parameters: [
            ...params(false),
            { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^wh_[0-9a-f]{16}$" } },
            { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 200, default: 50 } },
          ],
          responses: { ...ok("200", "WebhookDeliveryList", "The deliveries"), ...err([...authErrors, "not_found"]) },
        },
      },
      "/providers": { get: { summary: "The public provider registry", security: [], responses: { "200": { description: "Providers" } } } },
      "/healthz": { get: { summary: "Liveness", security: [], responses: { "200": { description: "Up" } } } },
      "/readyz": { get: { summary: "Readiness of the key service and the store", security: [], responses: { "200": { description: "Ready" }, "503": { description: "Not ready" } } } },
    },
    components: {
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        bearer: { type: "http", scheme: "bearer" },
      },
      schemas,
    },
  };
}
