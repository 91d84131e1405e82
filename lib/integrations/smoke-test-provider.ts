import "server-only";
import type { Actor } from "../auth/actor";
import { AppError } from "../errors";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { getDeps, type CoreDeps } from "../deps";
import { parseCredentialOrThrow, parseMetadataOrThrow, protocolOptions, resolveProviderOrThrow } from "./common";
import { resolveEndpoints, runConnectionTest, statusForOutcome } from "./protocols";
import type { ConnectionTestResult } from "./protocols/types";
import { credentialWarnings } from "./schemas";

export interface SmokeReport {
  provider: string;
  name: string;
  /** The verdict a setup would have recorded: active, invalid, expired, or null (no verdict). */
  status: "active" | "invalid" | "expired" | null;
  outcome: ConnectionTestResult["outcome"];
  checks: ConnectionTestResult["checks"];
  account: ConnectionTestResult["account"];
  key_kind: string | null;
  warnings: Record<string, string>;
  /** The keyed fingerprint setup would store: compare it with a stored integration's. Never the secret. */
  fingerprint: string;
  /** Endpoints the test talked to (origins only). */
  endpoints: Record<string, string>;
}

function parseJsonOrThrow(text: string, what: "credential" | "metadata"): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse's own message quotes the input, which may be a credential: a fixed one instead.
    throw new AppError("invalid_request", `The ${what} file is not valid JSON.`);
  }
}

/**
 * The credential file may hold the provider's fields ({"api_key": "…"}), or, for a provider whose
 * only required field is a key file (gcp, gcp_vertex), the key file itself as Google downloaded it.
 */
function credentialInput(fields: readonly { name: string; type: string; required: boolean }[], parsed: unknown): unknown {
  const keyFile = fields.filter((f) => f.required).length === 1 ? fields.find((f) => f.type === "json-file" && f.required) : undefined;
  if (keyFile && parsed && typeof parsed === "object" && !Array.isArray(parsed) && !(keyFile.name in parsed)) {
    return { [keyFile.name]: parsed };
  }
  return parsed;
}

/**
 * For operators with real credentials: one connection test against the real provider (or whatever
 * the endpoint variables point at), exactly as setup runs it (the same format check and
 * normalization, the same protocol module), and a report of every check. It stores nothing, writes
 * no audit event, and the report carries no secret (only the fingerprint). Operator only (the CLI).
 */
export async function smokeTestProvider(
  args: { actor: Actor | null; provider: string; credentialText: string; metadataText?: string; org?: string },
  deps: CoreDeps = getDeps(),
): Promise<SmokeReport> {
  if (args.actor?.kind !== "system") throw new AppError("forbidden", "A provider smoke test is an operator command (npm run cli).");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const credential = parseCredentialOrThrow(provider, credentialInput(provider.fields, parseJsonOrThrow(args.credentialText, "credential")));
  const metadata = args.metadataText === undefined ? {} : parseMetadataOrThrow(provider, parseJsonOrThrow(args.metadataText, "metadata"));
  let externalId = "";
  if (args.org) {
    const org = await deps.auth.getOrg(args.org);
    if (!org) throw new AppError("org_not_found", `Organization '${args.org}' was not found.`);
    externalId = org.externalId;
  }
  const test = await runConnectionTest(provider, credential, {
    ...protocolOptions(deps, args.org ?? "smoke-test", externalId),
    metadata,
  });
  const endpoints: Record<string, string> = {};
  for (const [k, v] of Object.entries(resolveEndpoints(provider, credential, deps.env.endpointOverrides))) {
    try {
      if (v) endpoints[k] = new URL(v).origin;
    } catch {
      /* not a URL: left out */
    }
  }
  return {
    provider: provider.id,
    name: provider.name,
    status: statusForOutcome(test.outcome),
    outcome: test.outcome,
    checks: test.checks,
    account: test.account,
    key_kind: test.key_kind,
    warnings: { ...credentialWarnings(provider, credential), ...test.warnings },
    fingerprint: fingerprintOf(canonicalize(credential), deps.pepper),
    endpoints,
  };
}
