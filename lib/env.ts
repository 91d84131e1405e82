import path from "node:path";
import { z } from "zod";
import { ENDPOINT_ENV_VARS, type EndpointEnvVar } from "./integrations/registry-schema";

/**
 * Configuration, validated once. `process.env` is read here and nowhere else (lint enforces it).
 * Bad configuration fails loudly at startup with the variable named.
 */
const intFromEnv = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const EnvSchema = z.object({
  PORT: intFromEnv(8000, 1, 65535),
  DATA_DIR: z.string().min(1).default("./.data"),
  KMS_BACKEND: z.enum(["local", "gcp"]).default("local"),
  GCP_KMS_KEY: z
    .string()
    .regex(/^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, "must be projects/…/locations/…/keyRings/…/cryptoKeys/…")
    .optional(),
  GCP_KMS_ENDPOINT: z.string().optional(),
  CREDENTIAL_STORE: z.enum(["sqlite", "bigquery"]).default("sqlite"),
  BIGQUERY_PROJECT: z.string().optional(),
  BIGQUERY_DATASET: z.string().default("integrations"),
  BIGQUERY_LOCATION: z.string().default("US"),
  BIGQUERY_API_ENDPOINT: z.string().optional(),
  AUTH_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** Signs session cookies; default: generated once into DATA_DIR/auth-secret (0600). */
  BETTER_AUTH_SECRET: z.string().min(32, "must be at least 32 characters (e.g. openssl rand -base64 32)").optional(),
  /** The public origin of the web UI (https://… in production); default http://localhost:PORT. */
  BETTER_AUTH_URL: z.string().regex(/^https?:\/\/[^\s/]+$/, "must be an origin such as https://costs.example.com (no path)").optional(),
  CONNECTION_TEST_TIMEOUT_MS: intFromEnv(10_000, 50, 120_000),
  CREDENTIAL_CACHE_TTL_MS: intFromEnv(300_000, 0, 86_400_000),
  CREDENTIAL_CACHE_MAX_ENTRIES: intFromEnv(1000, 1, 1_000_000),
  /** Setup + validate calls allowed per org per minute (docs/api.md 429 rate_limited). */
  ORG_RATE_LIMIT_PER_MINUTE: intFromEnv(60, 1, 100_000),
  /**
   * Organizations one account may create in the web UI (those it created that still exist); every
   * per-org budget multiplies with them. The operator's CLI (`orgs create`) is not limited.
   */
  MAX_ORGS_PER_ACCOUNT: intFromEnv(10, 1, 10_000),
  /** `POST …/access` calls allowed per pipeline key per minute (results are cached, so a pipeline rarely needs many). */
  ACCESS_RATE_LIMIT_PER_MINUTE: intFromEnv(120, 1, 100_000),
  /** Scheduled re-validation of every active credential: `30s`, `15m`, `6h`, `1d`; unset = off. */
  VALIDATE_EVERY: z
    .string()
    .regex(/^\d+(s|m|h|d)$/, "must be a number with a unit: 30s, 15m, 6h or 1d")
    .transform((v, ctx) => {
      const ms = Number(v.slice(0, -1)) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[v.slice(-1) as "s" | "m" | "h" | "d"];
      if (ms < 10_000 || ms > 30 * 86_400_000) ctx.addIssue({ code: "custom", message: "must be between 10s and 30d" });
      return ms;
    })
    .optional(),
  /** Base64 pepper for credential fingerprints; default: generated once under DATA_DIR. */
  FINGERPRINT_PEPPER: z.string().optional(),
  /** Audit events older than this many days are deleted (docs/security.md, "Audit trail"). */
  AUDIT_RETENTION_DAYS: intFromEnv(400, 1, 36_500),
  /** Base64 HMAC key of the audit hash chain (≥ 32 bytes); default: generated once under DATA_DIR. Shared by every instance. */
  AUDIT_HMAC_KEY: z.string().optional(),
  PLATFORM_AWS_PRINCIPAL_ARN: z.string().optional(),
  /** Outgoing mail (invitations, address verification, password reset); unset: files in DATA_DIR/outbox. */
  SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, "must be an smtp:// or smtps:// URL (smtp://user:pass@host:587)").optional(),
  MAIL_FROM: z.string().max(254).default("Credential manager <no-reply@localhost>"),
  /** Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs); otherwise the socket address counts. */
  TRUSTED_PROXIES: z
    .string()
    .regex(/^\s*[0-9A-Fa-f.:]+(\/\d{1,3})?\s*(,\s*[0-9A-Fa-f.:]+(\/\d{1,3})?\s*)*$/, "must be comma-separated IP addresses or CIDRs (10.0.0.0/8, 192.0.2.1)")
    .optional(),
  /** `1` lets webhooks target http and loopback/private hosts (tests only; lib/webhooks/ssrf.ts). */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(["0", "1"], { message: "must be 1 (tests only) or 0" })
    .default("0")
    .transform((v) => v === "1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().default("development"),
});

export type Env = z.infer<typeof EnvSchema> & {
  /** Absolute DATA_DIR. */
  dataDir: string;
  /** Provider endpoint overrides that are set (docs/operations.md, "Provider endpoints"). */
  endpointOverrides: Partial<Record<EndpointEnvVar, string>>;
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parse a given environment (tests pass their own). */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== "") cleaned[k] = v;
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  if (env.KMS_BACKEND === "gcp" && !env.GCP_KMS_KEY) throw new ConfigError("Invalid configuration:\n  - GCP_KMS_KEY: is required when KMS_BACKEND=gcp");
  if (env.CREDENTIAL_STORE === "bigquery" && !env.BIGQUERY_PROJECT) {
    throw new ConfigError("Invalid configuration:\n  - BIGQUERY_PROJECT: is required when CREDENTIAL_STORE=bigquery");
  }
  const endpointOverrides: Partial<Record<EndpointEnvVar, string>> = {};
  for (const name of ENDPOINT_ENV_VARS) {
    const v = cleaned[name];
    if (v === undefined) continue;
    if (!/^https?:\/\/[^\s]+$/.test(v)) throw new ConfigError(`Invalid configuration:\n  - ${name}: must be an http(s) URL`);
    endpointOverrides[name] = v.replace(/\/+$/, "");
  }
  return { ...env, dataDir: path.resolve(env.DATA_DIR), endpointOverrides };
}

let cached: Env | null = null;

/** The process configuration, parsed on first use. */
export function getEnv(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
