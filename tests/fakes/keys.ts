/**
 * Deterministic keys the local provider fakes accept. Each is structurally valid for its provider
 * (docs/providers.md formats); any other key is rejected by the fake as the real API would reject an
 * unknown key. Special keys select a behaviour, so an end-to-end test can pick a failure just by the
 * key it uploads.
 *
 * The random-looking parts come from a seeded generator: they are stable across runs and share no
 * 8-character run with any message the connection tests write.
 */

const KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const KEY_CHARS_URLSAFE = KEY_CHARS + "_-";

function seeded(seed: string): () => number {
  // FNV-1a of the seed, then mulberry32.
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` characters from `alphabet`, determined by `seed`. */
export function fakeChars(seed: string, length: number, alphabet = KEY_CHARS_URLSAFE): string {
  const next = seeded(seed);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

// --- OpenAI: sk-<kind>-<58>T3BlbkFJ<58> (the gitleaks shape; matches ^sk-[A-Za-z0-9_-]{20,}$) ---

function openaiKey(prefix: string, seed: string): string {
  return `${prefix}${fakeChars(`${seed}/a`, 58)}T3BlbkFJ${fakeChars(`${seed}/b`, 58)}`;
}

/** The organization every fake OpenAI key belongs to; another OpenAI-Organization header → 401 mismatched_organization. */
export const FAKE_OPENAI_ORG_ID = `org-${fakeChars("openai-org", 24, KEY_CHARS)}`;
/** Admin key: costs 200 → ok, key_kind "admin". */
export const FAKE_OPENAI_ADMIN_KEY = openaiKey("sk-admin-", "openai-admin");
/** Admin key without the usage read scope: costs 403 "Missing scopes: api.usage.read" → permission_denied. */
export const FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE = openaiKey("sk-admin-", "openai-admin-no-scope");
/** The same, answered with `"code": "missing_scope"` (the client-fixture variant) instead of null. */
export const FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE_CODED = openaiKey("sk-admin-", "openai-admin-no-scope-coded");
/** Admin key the fake answers with 429 and Retry-After: 7 → rate_limited, retry_after_s 7. */
export const FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED = openaiKey("sk-admin-", "openai-admin-429");
/** Admin key the fake answers with 503 → provider_error. */
export const FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE = openaiKey("sk-admin-", "openai-admin-503");
/** Admin key the fake never answers → timeout. */
export const FAKE_OPENAI_ADMIN_KEY_HANG = openaiKey("sk-admin-", "openai-admin-hang");
/** Project key: /v1/models 200, costs 403 → permission_denied (needs an admin key), key_kind "project". */
export const FAKE_OPENAI_PROJECT_KEY = openaiKey("sk-proj-", "openai-project");
/** Service-account key: like the project key, key_kind "service_account". */
export const FAKE_OPENAI_SERVICE_ACCOUNT_KEY = openaiKey("sk-svcacct-", "openai-svcacct");
/** Well-formed but unknown: 401 invalid_api_key → auth_failed. */
export const FAKE_OPENAI_INVALID_KEY = openaiKey("sk-proj-", "openai-unknown");
/** Valid admin key whose organization has an IP allowlist without this server: 401 ip_not_authorized on every call → permission_denied. */
export const FAKE_OPENAI_ADMIN_KEY_IP_NOT_AUTHORIZED = openaiKey("sk-admin-", "openai-admin-ip");
/** Valid project key whose project has an IP allowlist without this server: 401 ip_not_authorized on /v1/models → permission_denied. */
export const FAKE_OPENAI_PROJECT_KEY_IP_NOT_AUTHORIZED = openaiKey("sk-proj-", "openai-project-ip");
/** Admin key of an organization out of credit: 429 insufficient_quota → permission_denied (billing), not rate_limited. */
export const FAKE_OPENAI_ADMIN_KEY_INSUFFICIENT_QUOTA = openaiKey("sk-admin-", "openai-admin-quota");
/** Key of an account that belongs to no organization: 401 no_organization → auth_failed, without the organization_id hint. */
export const FAKE_OPENAI_KEY_NO_ORGANIZATION = openaiKey("sk-proj-", "openai-no-org");

// --- Anthropic: sk-ant-admin01-<93>AA and sk-ant-api03-<93>AA ---

function anthropicKey(prefix: string, seed: string): string {
  return `${prefix}${fakeChars(seed, 93)}AA`;
}

/** The organization /v1/organizations/me returns for fake admin keys. */
export const FAKE_ANTHROPIC_ORG = { id: "6f1c2e8a-3b4d-4c5e-9f60-7a8b9c0d1e2f", name: "Fake Anthropic Org" } as const;
/** Admin key: me 200 + cost_report 200 → ok, account FAKE_ANTHROPIC_ORG, key_kind "admin". */
export const FAKE_ANTHROPIC_ADMIN_KEY = anthropicKey("sk-ant-admin01-", "anthropic-admin");
/** Admin key answered 429 rate_limit_error with retry-after: 7 → rate_limited, retry_after_s 7. */
export const FAKE_ANTHROPIC_ADMIN_KEY_RATE_LIMITED = anthropicKey("sk-ant-admin01-", "anthropic-admin-429");
/** Admin key answered 503 api_error → provider_error. */
export const FAKE_ANTHROPIC_ADMIN_KEY_UNAVAILABLE = anthropicKey("sk-ant-admin01-", "anthropic-admin-503");
/** Admin key answered 529 overloaded_error → provider_error. */
export const FAKE_ANTHROPIC_ADMIN_KEY_OVERLOADED = anthropicKey("sk-ant-admin01-", "anthropic-admin-529");
/** Admin key the fake never answers → timeout. */
export const FAKE_ANTHROPIC_ADMIN_KEY_HANG = anthropicKey("sk-ant-admin01-", "anthropic-admin-hang");
/** Workspace API key: /v1/models 200, /v1/organizations/* 403 permission_error → permission_denied, key_kind "api". */
export const FAKE_ANTHROPIC_API_KEY = anthropicKey("sk-ant-api03-", "anthropic-api");
/** Well-formed but unknown: 401 authentication_error "invalid x-api-key" → auth_failed. */
export const FAKE_ANTHROPIC_INVALID_KEY = anthropicKey("sk-ant-admin01-", "anthropic-unknown");
// No "expired" Anthropic key: the API documents no expired/revoked error type (a disabled key is a 401).

// --- Gemini: auth keys AQ.<50>, standard keys AIza<35> ---

function geminiAuthKey(seed: string): string {
  return `AQ.${fakeChars(seed, 50)}`;
}

/** Auth key (AQ.): models 200 → ok, key_kind "auth", read_costs skipped. */
export const FAKE_GEMINI_KEY = geminiAuthKey("gemini-auth");
/** Standard key (AIza): models 200 → ok, key_kind "standard". */
export const FAKE_GEMINI_LEGACY_KEY = `AIzaSy${fakeChars("gemini-standard", 33)}`;
/** 400 INVALID_ARGUMENT reason API_KEY_EXPIRED → expired. */
export const FAKE_GEMINI_KEY_EXPIRED = geminiAuthKey("gemini-expired");
/** 401 UNAUTHENTICATED reason ACCESS_TOKEN_TYPE_UNSUPPORTED → auth_failed (auth key's project lacks the API). */
export const FAKE_GEMINI_KEY_TOKEN_TYPE_UNSUPPORTED = geminiAuthKey("gemini-token-type");
/** 403 PERMISSION_DENIED reason SERVICE_DISABLED → permission_denied. */
export const FAKE_GEMINI_KEY_SERVICE_DISABLED = geminiAuthKey("gemini-service-disabled");
/** 429 RESOURCE_EXHAUSTED with RetryInfo retryDelay "7s" (no Retry-After header) → rate_limited, retry_after_s 7. */
export const FAKE_GEMINI_KEY_RATE_LIMITED = geminiAuthKey("gemini-429");
/** 503 UNAVAILABLE → provider_error. */
export const FAKE_GEMINI_KEY_UNAVAILABLE = geminiAuthKey("gemini-503");
/** Never answered → timeout. */
export const FAKE_GEMINI_KEY_HANG = geminiAuthKey("gemini-hang");
/** Well-formed but unknown: 400 INVALID_ARGUMENT reason API_KEY_INVALID → auth_failed. */
export const FAKE_GEMINI_INVALID_KEY = geminiAuthKey("gemini-unknown");
