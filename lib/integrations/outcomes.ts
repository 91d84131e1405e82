/** Connection-test outcomes (docs/api.md). Client-safe: the UI shows them. */
export const CONNECTION_OUTCOMES_LIST = [
  "ok",
  "auth_failed",
  "permission_denied",
  "expired",
  "not_found",
  "rate_limited",
  "timeout",
  "network",
  "provider_error",
  "skipped",
] as const;
