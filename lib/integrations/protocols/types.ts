import "server-only";
import type { ResolvedProvider } from "../registry-schema";
import { CONNECTION_OUTCOMES_LIST } from "../outcomes";
import type { z } from "zod";
import type { CheckResultSchema, ConnectionTestVerdictSchema } from "../schemas";
import type { SetupInfoPartsSchema } from "../setup-info-schema";

/** Outcomes of a connection test and of each of its checks: the one list, in lib/integrations/outcomes.ts. */
export const CONNECTION_OUTCOMES = CONNECTION_OUTCOMES_LIST;
export type ConnectionOutcome = (typeof CONNECTION_OUTCOMES)[number];

/** One check of a connection test: the type of its schema, CheckResultSchema (lib/integrations/schemas.ts). */
export type CheckResult = z.infer<typeof CheckResultSchema>;

/** A connection test's full result: the type of ConnectionTestVerdictSchema (lib/integrations/schemas.ts). */
export type ConnectionTestResult = z.infer<typeof ConnectionTestVerdictSchema>;

export interface ConnectionTestContext {
  /** Concrete provider id, e.g. "openai" or "saas_datadog". */
  provider: string;
  /** Human name of the provider, for messages. */
  providerName: string;
  /** The credential after format checks and normalization (field name → value). */
  credential: Record<string, unknown>;
  /** Resolved endpoint bases from the registry defaults and their override variables, e.g. { api_base: "http://127.0.0.1:4010" }. */
  endpoints: Record<string, string>;
  /** Per provider call (CONNECTION_TEST_TIMEOUT_MS). */
  timeoutMs: number;
  /** Injected for tests; defaults to global fetch. Calls `pace` before each request. */
  fetch: typeof fetch;
  /**
   * The provider pacing gate (docs/security.md, "Pacing"): every transport that sends a request
   * to the provider awaits it just before the request leaves — ctx.fetch does, and so do the SDK
   * transports the protocols configure (the AWS clients' request handler, the Azure credential's
   * pipeline). The first call spends the operation's one unit of the provider's budget; when the
   * budget is spent it rejects (every time) and the request is not sent. A no-op when unpaced.
   */
  pace: () => Promise<void>;
  /** Injected clock (ms since epoch). */
  now: () => number;
  /** The organization the credential belongs to (slug). */
  org: string;
  /**
   * The org's stable, random AWS external ID (generated once per org, shown by setup-info): the
   * value customers put in their role's trust policy, passed on every AssumeRole.
   */
  externalId: string;
  /** The integration's metadata (e.g. gcp's billing_export_table, aws_keys' region); {} when none. */
  metadata?: Readonly<Record<string, unknown>>;
  /**
   * The provider's registry entry (permissions, roles, checks). Absent only in unit tests that build
   * a context by hand; `definitionOf(ctx)` then reads the same entry from the registry.
   */
  definition?: ResolvedProvider;
}

export type ConnectionTest = (ctx: ConnectionTestContext) => Promise<ConnectionTestResult>;

/** What a cost pipeline needs to call the provider, by protocol. `expires_at` is ISO or null. */
export type PipelineAuth =
  | { kind: "api_key"; provider: string; api_key: string; headers: Record<string, string>; base_url: string; expires_at: null }
  | {
      kind: "aws";
      provider: string;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      region: string;
      expires_at: string | null;
    }
  | { kind: "google_access_token"; provider: string; access_token: string; project_id: string; expires_at: string }
  | { kind: "azure_access_token"; provider: string; access_token: string; scope: string; subscription_id?: string; endpoint?: string; expires_at: string }
  | { kind: "oci_request_signing"; provider: string; key_id: string; private_key_pem: string; region: string; tenancy_ocid: string; expires_at: null }
  | { kind: "manual"; provider: string; fields: Record<string, unknown>; expires_at: null };

/**
 * For a pipeline: from the same context a connection test gets (the canonical credential, the
 * resolved endpoints, the org's external ID, the metadata), what it needs to call the provider.
 * Throws on failure (the caller turns it into a fixed message).
 */
export type PipelineAuthenticator = (ctx: ConnectionTestContext) => Promise<PipelineAuth>;

/**
 * Everything the product knows about one provider protocol. The connection test and the pipeline's
 * authenticate() live side by side and share their token, endpoint and key helpers, so they cannot
 * disagree about a scope, an endpoint or a key's form. Normalization of the credential happens
 * once, at the format check (lib/integrations/schemas.ts, from the registry's field formats), so
 * both receive the same canonical credential.
 */
export interface Protocol {
  test: ConnectionTest;
  authenticate: PipelineAuthenticator;
  /** What a person must prepare before creating the credential (setup-info), from the registry entry. */
  setupInfo: SetupInfoBuilder;
  /** Placeholders the protocol derives for its endpoint templates (OCI: the realm's domain). */
  endpointParams?: (credential: Record<string, unknown>) => Record<string, string>;
}

/** The protocol-specific part of setup-info: the type of SetupInfoPartsSchema (lib/integrations/setup-info-schema.ts). */
export type SetupInfoParts = z.infer<typeof SetupInfoPartsSchema>;

export type SetupInfoBuilder = (
  provider: ResolvedProvider,
  org: { slug: string; externalId: string },
  platform: { awsPrincipal: () => Promise<string | null> },
) => Promise<SetupInfoParts>;
