import "server-only";

import { gaxios, JWT } from "google-auth-library";

import { classifyFetchError, classifyHttpStatus, getPath, isRecord, safeToken, unexpectedBody, unexpectedStatus, type CheckBody, type HttpReply } from "../http";
import type { ConnectionTestContext } from "../types";

/**
 * Google service-account tokens, for the connection test and the pipelines alike:
 * google-auth-library's `JWT` signs the assertion (aud = Google's token URL, which Google checks)
 * and exchanges it at the configured token endpoint only (see pinnedTransporter).
 */

/** Google writes 2048-bit keys; uploaded ones may be up to 4096 (https://cloud.google.com/iam/docs/keys-upload). */
export const MAX_RSA_BITS = 4096;

/** The URL google-auth-library posts the assertion to, and the assertion's `aud`. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

export const NEW_KEY_HINT = "create a new key (IAM → Service accounts → the account → Keys → Add key → JSON) and upload the new file";

export interface ServiceAccount {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | undefined;
  projectId: string;
}

export function serviceAccountOf(ctx: ConnectionTestContext): ServiceAccount | null {
  const sa = ctx.credential.service_account_json;
  if (!isRecord(sa)) return null;
  const { client_email: clientEmail, private_key: privateKey, private_key_id: privateKeyId, project_id: projectId } = sa;
  if (typeof clientEmail !== "string" || typeof privateKey !== "string" || typeof projectId !== "string") return null;
  if (!clientEmail || !privateKey || !projectId) return null;
  return {
    clientEmail,
    // Used exactly as stored: PEM escapes and line endings were normalized once, at the format
    // check (lib/integrations/schemas.ts), so this test and the pipeline sign with the same key.
    privateKey,
    privateKeyId: typeof privateKeyId === "string" && privateKeyId ? privateKeyId : undefined,
    projectId,
  };
}

// ---------------------------------------------------------------------------------------------
// authenticate

export type TokenOutcome = { ok: true; accessToken: string; expiresAt: number | null } | { ok: false; check: CheckBody };

/**
 * A transporter that can only ever reach the configured token endpoint, once, within the timeout.
 * It sends through ctx.fetch, so the token request passes the provider pacing gate like every other
 * request of the test (gaxios `src/gaxios.ts`, _defaultAdapter: `config.fetchImplementation ||
 * this.defaults.fetchImplementation || …`; the JWT client sends its token request through the
 * `transporter` it is given, google-auth-library `src/auth/jwtclient.ts`).
 */
export function pinnedTransporter(
  ctx: ConnectionTestContext,
  tokenUrl: URL,
  seen: { sent: boolean; refused: boolean },
): gaxios.Gaxios {
  const transporter = new gaxios.Gaxios({
    timeout: ctx.timeoutMs,
    retry: false,
    retryConfig: { retry: 0, noResponseRetries: 0 },
    redirect: "manual",
    fetchImplementation: ctx.fetch,
  });
  transporter.interceptors.request.add({
    resolved: async (config) => {
      if (config.url.href !== GOOGLE_TOKEN_URL) {
        seen.refused = true;
        throw new Error("gcp connection test: request to an unexpected URL refused");
      }
      seen.sent = true;
      // A URL object, not a string: gaxios's error redactor reads config.url.searchParams and a
      // string there throws a TypeError that would hide the token endpoint's answer.
      config.url = new URL(tokenUrl.href);
      config.retry = false;
      config.retryConfig = { retry: 0, noResponseRetries: 0 };
      config.redirect = "manual";
      config.fetchImplementation = ctx.fetch;
      return config;
    },
  });
  return transporter;
}

/** The token endpoint's OAuth error answer (`error` is quoted only after safeToken accepted it). */
function oauthError(data: unknown): { error: string | null; description: string } {
  const description = getPath(data, "error_description");
  return {
    error: safeToken(getPath(data, "error")),
    description: typeof description === "string" ? description : "",
  };
}

function classifyTokenError(ctx: ConnectionTestContext, sa: ServiceAccount, tokenUrl: string, err: unknown): CheckBody {
  const response = err instanceof gaxios.GaxiosError ? err.response : undefined;
  if (!response) return classifyFetchError(ctx, tokenUrl, err);

  const reply: HttpReply = {
    kind: "response",
    status: response.status,
    headers: response.headers instanceof Headers ? response.headers : new Headers(),
    json: response.data,
  };
  const { error, description } = oauthError(response.data);
  const code = error ?? `HTTP ${reply.status}`;

  if (error === "invalid_grant") {
    if (/reasonable timeframe|short-lived|\biat\b|\bexp\b/i.test(description)) {
      return {
        outcome: "auth_failed",
        message:
          "Google rejected the signed token as outside a reasonable timeframe (invalid_grant). This usually means this " +
          "server's clock is wrong: check that it is synchronized (NTP) and try again.",
      };
    }
    if (/signature/i.test(description)) {
      return {
        outcome: "auth_failed",
        message:
          "Google rejected the key's signature (invalid_grant: Invalid JWT Signature). The key was deleted or disabled, or it is " +
          `not this service account's: ${NEW_KEY_HINT}.`,
      };
    }
  }
  if (error === "invalid_grant" || error === "invalid_client" || error === "unauthorized_client" || error === "disabled_client" || error === "deleted_client") {
    if (/disabled/i.test(description) || error === "disabled_client") {
      return {
        outcome: "auth_failed",
        message:
          `Google says the service account ${sa.clientEmail} is disabled (${code}). Enable it in IAM → Service accounts, ` +
          "or use a key of an enabled account.",
      };
    }
    if (/not found|deleted|does not exist/i.test(description) || error === "deleted_client") {
      return {
        outcome: "auth_failed",
        message:
          `Google does not know the service account ${sa.clientEmail} (${code}); it was probably deleted. ` +
          "Create a service account and a key for it, grant it the roles, and upload the new key file.",
      };
    }
    if (/expired/i.test(description)) {
      return {
        outcome: "expired",
        message: `Google says this service account key has expired (${code}): ${NEW_KEY_HINT}.`,
      };
    }
    return {
      outcome: "auth_failed",
      message: `Google refused this service account key (${code}). Check that the key file is the current one; if it is, ${NEW_KEY_HINT}.`,
    };
  }
  const general = classifyHttpStatus(ctx, reply, error);
  if (general) return general;
  if (reply.status === 400 || reply.status === 401 || reply.status === 403) {
    return {
      outcome: "provider_error",
      message: `Google's token endpoint refused the token request (${code}). Try again later; if it persists, report it to the operators.`,
    };
  }
  return unexpectedStatus(ctx, reply, tokenUrl, error);
}

export async function authenticate(ctx: ConnectionTestContext, sa: ServiceAccount): Promise<TokenOutcome> {
  const configured = ctx.endpoints.token_url ?? GOOGLE_TOKEN_URL;
  let tokenUrl: URL;
  try {
    tokenUrl = new URL(configured);
    if (tokenUrl.protocol !== "https:" && tokenUrl.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    return {
      ok: false,
      check: {
        outcome: "provider_error",
        message: "The configured Google token endpoint (GOOGLE_OAUTH_TOKEN_URL) is not a valid http(s) URL. Report it to the operators.",
      },
    };
  }

  const seen = { sent: false, refused: false };
  const jwt = new JWT({
    email: sa.clientEmail,
    key: sa.privateKey,
    keyId: sa.privateKeyId,
    scopes: [CLOUD_PLATFORM_SCOPE],
    transporter: pinnedTransporter(ctx, tokenUrl, seen),
    // No logging interceptors: they would log the token response.
    useAuthRequestParameters: false,
  });

  try {
    const tokens = await jwt.authorize();
    const accessToken = tokens.access_token;
    if (typeof accessToken !== "string" || accessToken === "") {
      return { ok: false, check: unexpectedBody(ctx, tokenUrl.href) };
    }
    return { ok: true, accessToken, expiresAt: typeof tokens.expiry_date === "number" ? tokens.expiry_date : null };
  } catch (err) {
    if (seen.refused) {
      return {
        ok: false,
        check: {
          outcome: "provider_error",
          message: "The connection test failed unexpectedly. Try again; if it persists, report it to the operators.",
        },
      };
    }
    if (!seen.sent) {
      // Signing failed before any request: the PEM is not a usable RSA private key.
      return {
        ok: false,
        check: {
          outcome: "auth_failed",
          message:
            "The key file's private_key could not be used to sign (it is damaged or not an RSA private key). " +
            "Upload the key file exactly as Google downloaded it, or create a new key.",
        },
      };
    }
    return { ok: false, check: classifyTokenError(ctx, sa, tokenUrl.href, err) };
  }
}
