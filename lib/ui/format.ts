/**
 * Deterministic date formatting (the same on the server and in the browser, so hydration never
 * disagrees): "2026-11-25 22:01 UTC".
 */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "never";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "unknown";
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "saas_datadog" from "Datadog Inc." (the vendor slug of a manual SaaS integration). */
export function slugifyVendor(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
}

/** An org slug suggestion from its name. */
export function slugifyOrg(name: string): string {
  return slugifyVendor(name).slice(0, 63);
}

export const STEP_LABELS = {
  format: "Format check",
  connection_test: "Connection test",
  encryption: "Encryption",
  stored: "Stored",
} as const;

/** Plain words for a connection-test outcome or error code. */
export function describeOutcome(code: string): string {
  switch (code) {
    case "ok":
      return "passed";
    case "auth_failed":
      return "the provider rejected the credential";
    case "permission_denied":
      return "the credential lacks a permission the cost pipeline needs";
    case "expired":
      return "the credential has expired or was revoked";
    case "not_found":
      return "the account or resource was not found";
    case "rate_limited":
      return "the provider is throttling requests; try again shortly";
    case "timeout":
      return "the provider did not answer in time";
    case "network":
      return "the provider could not be reached";
    case "provider_error":
      return "the provider returned an error";
    case "skipped":
      return "not run";
    default:
      return code.replace(/_/g, " ");
  }
}

/** What a whole connection test's outcome says, in words (a manual entry is never tested). */
export function describeTestOutcome(outcome: string): string {
  return outcome === "skipped" ? "not run: a manual entry has nothing to test" : describeOutcome(outcome);
}

type IntegrationLike = {
  provider: string;
  category?: string;
  status: "active" | "invalid" | "expired" | "pending";
  last_validated_at: string | null;
  last_error: { code: string; message: string; at: string } | null;
};

/** Manual SaaS entries (saas_<vendor>) have no connection test. */
export const isManualEntry = (i: { provider: string }) => i.provider.startsWith("saas_");

/**
 * "Last validated", the same everywhere: when the credential was last tested against the
 * provider (setup or Validate), whatever the result; the status and last error say how it went.
 * A manual entry is never tested.
 */
export function formatLastValidated(i: IntegrationLike): string {
  if (isManualEntry(i)) return "not tested (manual entry)";
  return formatDateTime(i.last_validated_at);
}

/** An integration needs attention when it is not active or its last check failed. */
export function needsAttention(i: IntegrationLike): boolean {
  return i.status !== "active" || i.last_error !== null;
}

/** The one thing to do about an integration that needs attention, in words. */
export function attentionAction(i: IntegrationLike): string {
  const code = i.last_error?.code ?? (i.status === "expired" ? "expired" : i.status === "invalid" ? "auth_failed" : "pending");
  switch (code) {
    case "auth_failed":
    case "expired":
      return "Replace the credential with a new one";
    case "permission_denied":
      return "Grant the missing permission, then validate again";
    case "not_found":
      return "Check the account or project, then replace the credential";
    case "rate_limited":
    case "timeout":
    case "network":
    case "provider_error":
      return "A provider problem: validate again in a few minutes";
    default:
      return "Validate it again";
  }
}
