import { fakeChars } from "./keys";

/**
 * Deterministic identities the Azure fakes (tests/fakes/azure.ts) know. Every value is structurally
 * valid for the registry (docs/providers.md, "Microsoft Azure" and "Azure OpenAI"): GUID tenant/client/subscription ids, and client
 * secrets of the current `xxx8Q~…` shape (40 characters, `^[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}$`).
 * The random-looking parts come from a seeded generator: stable across runs.
 *
 * The `FAKE_AZURE_APP*` objects use the credential's own field names, so a test can spread them:
 * `{ ...FAKE_AZURE_APP, subscription_id: FAKE_AZURE_SUBSCRIPTION_ID }` (azure) or
 * `{ ...FAKE_AZURE_APP, endpoint: FAKE_AZURE_OPENAI_ENDPOINT }` (azure_openai).
 * startAzureFakes() registers all of them unless told not to.
 */

const HEX = "0123456789abcdef";
const SECRET_HEAD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.";
const SECRET_TAIL = SECRET_HEAD + "-";

/** A version-4-shaped GUID determined by `seed`. */
export function fakeGuid(seed: string): string {
  const h = fakeChars(`guid/${seed}`, 32, HEX);
  const variant = "89ab"[parseInt(h[16] ?? "0", 16) % 4];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A client secret of the current Entra ID shape (3 chars, a digit, "Q~", 34 chars). */
export function fakeClientSecret(seed: string): string {
  const digit = fakeChars(`secret/${seed}/d`, 1, "0123456789");
  return `${fakeChars(`secret/${seed}/h`, 3, SECRET_HEAD)}${digit}Q~${fakeChars(`secret/${seed}/t`, 34, SECRET_TAIL)}`;
}

export interface FakeAzureAppCredential {
  tenant_id: string;
  client_id: string;
  client_secret: string;
}

// --- Directories ---

/** The tenant every default app lives in. */
export const FAKE_AZURE_TENANT_ID = fakeGuid("tenant-main");
/** A second tenant that exists but holds none of the default apps ("wrong tenant" → AADSTS700016). */
export const FAKE_AZURE_OTHER_TENANT_ID = fakeGuid("tenant-other");
/** A tenant the fake does not know: discovery and token endpoints answer AADSTS90002. */
export const FAKE_AZURE_UNKNOWN_TENANT_ID = fakeGuid("tenant-unknown");

// --- Subscriptions ---

/** A subscription in FAKE_AZURE_TENANT_ID; the Cost Management query answers for it. */
export const FAKE_AZURE_SUBSCRIPTION_ID = fakeGuid("subscription-main");
/** A subscription that belongs to FAKE_AZURE_OTHER_TENANT_ID: ARM answers 401 InvalidAuthenticationTokenTenant. */
export const FAKE_AZURE_OTHER_TENANT_SUBSCRIPTION_ID = fakeGuid("subscription-other-tenant");
/** A subscription nobody has: ARM answers 404 SubscriptionNotFound. */
export const FAKE_AZURE_UNKNOWN_SUBSCRIPTION_ID = fakeGuid("subscription-unknown");

// --- Azure OpenAI ---

/** A well-formed resource endpoint (passes the allowed-host pattern); tests reach the fake through endpoint_override. */
export const FAKE_AZURE_OPENAI_ENDPOINT = "https://finops-fake-eastus.openai.azure.com";

// --- Apps (service principals) ---

function app(seed: string): FakeAzureAppCredential {
  return { tenant_id: FAKE_AZURE_TENANT_ID, client_id: fakeGuid(`app/${seed}`), client_secret: fakeClientSecret(`app/${seed}`) };
}

/** Cost Management Reader on FAKE_AZURE_SUBSCRIPTION_ID and Cognitive Services OpenAI User on the resource → ok for both providers. */
export const FAKE_AZURE_APP = app("full");
/** Authenticates, but holds no role: Cost Management 403 AuthorizationFailed, Azure OpenAI 403 PermissionDenied. */
export const FAKE_AZURE_APP_NO_ROLES = app("no-roles");
/** Its only secret has expired: token endpoint 401 AADSTS7000222 → expired. */
export const FAKE_AZURE_APP_EXPIRED_SECRET = app("expired-secret");
/** Roles like FAKE_AZURE_APP, but Cost Management and Azure OpenAI answer 429 (retry after 9 s). */
export const FAKE_AZURE_APP_THROTTLED = app("throttled");
/** Roles like FAKE_AZURE_APP, but Cost Management and Azure OpenAI answer 503. */
export const FAKE_AZURE_APP_UNAVAILABLE = app("unavailable");
/** Roles like FAKE_AZURE_APP, but Cost Management and Azure OpenAI never answer → timeout. */
export const FAKE_AZURE_APP_HANG = app("hang");

/** A well-formed secret no app has: token endpoint 401 AADSTS7000215 → auth_failed. */
export const FAKE_AZURE_WRONG_SECRET = fakeClientSecret("wrong");
/** What users paste by mistake: the secret's ID (a GUID) instead of its value → AADSTS7000215 as well. */
export const FAKE_AZURE_SECRET_ID = fakeGuid("secret-id-of-full");
/** A client id registered nowhere: token endpoint 400 AADSTS700016 → not_found. */
export const FAKE_AZURE_UNKNOWN_CLIENT_ID = fakeGuid("app/unknown");

/** The retry-after the throttled app gets from Cost Management (x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after) and Azure OpenAI (Retry-After). */
export const FAKE_AZURE_RETRY_AFTER_S = 9;
