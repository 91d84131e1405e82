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
      return "nothing to test (manual entry)";
    default:
      return code.replace(/_/g, " ");
  }
}
