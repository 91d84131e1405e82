import {
  FAKE_GEMINI_KEY,
  FAKE_GEMINI_KEY_EXPIRED,
  FAKE_GEMINI_KEY_HANG,
  FAKE_GEMINI_KEY_RATE_LIMITED,
  FAKE_GEMINI_KEY_SERVICE_DISABLED,
  FAKE_GEMINI_KEY_TOKEN_TYPE_UNSUPPORTED,
  FAKE_GEMINI_KEY_UNAVAILABLE,
  FAKE_GEMINI_LEGACY_KEY,
} from "./keys";
import { header, startFakeServer, type FakeReply, type FakeServer, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * A local stand-in for https://generativelanguage.googleapis.com answering /v1beta/models like the
 * real API (docs/providers.md, "Google Gemini API"): the key in `x-goog-api-key` or `?key=`; Google error bodies
 * `{"error":{code,message,status,details:[ErrorInfo{reason,domain,metadata}, …]}}`; a bad key is
 * HTTP 400 INVALID_ARGUMENT with reason API_KEY_INVALID (not 401).
 *
 * Sources, beside what the connection test relies on:
 * - GET /v1beta/models?pageSize=… and the `x-goog-api-key` header:
 *   https://ai.google.dev/api/rest/v1beta/models/list, https://ai.google.dev/gemini-api/docs/api-key;
 * - Google's error model (`error.status`, `details[]` with google.rpc.ErrorInfo `reason` and
 *   google.rpc.RetryInfo `retryDelay`): https://cloud.google.com/apis/design/errors and
 *   https://google.aip.dev/193;
 * - a bad key answered 400 INVALID_ARGUMENT / API_KEY_INVALID ("API key not valid. Please pass a
 *   valid API key.") rather than 401, observed: continuedev/continue#8516, google/timesketch#3703;
 *   the "API Key not found" variant: google-gemini/gemini-cli#25198;
 * - an auth key (AQ.…) whose project cannot use it: 401 UNAUTHENTICATED with reason
 *   ACCESS_TOKEN_TYPE_UNSUPPORTED, observed in google-gemini/gemini-cli issues;
 * - 403 SERVICE_DISABLED when the Generative Language API is off in the key's project, and 429
 *   RESOURCE_EXHAUSTED with RetryInfo: the same error model (cloud.google.com/apis/design/errors).
 * The code classifies by `details[].reason` first and by HTTP status second, so a bad key is an
 * authentication failure whether Google answers 400 or 401.
 */

export type GeminiFakeMode = "normal" | "hang" | "unavailable" | "rate_limited";
export type GeminiFake = FakeServer<GeminiFakeMode>;

type Behaviour = "ok" | "expired" | "token_type" | "service_disabled" | "rate_limited" | "unavailable" | "hang";

const KEYS = new Map<string, Behaviour>([
  [FAKE_GEMINI_KEY, "ok"],
  [FAKE_GEMINI_LEGACY_KEY, "ok"],
  [FAKE_GEMINI_KEY_EXPIRED, "expired"],
  [FAKE_GEMINI_KEY_TOKEN_TYPE_UNSUPPORTED, "token_type"],
  [FAKE_GEMINI_KEY_SERVICE_DISABLED, "service_disabled"],
  [FAKE_GEMINI_KEY_RATE_LIMITED, "rate_limited"],
  [FAKE_GEMINI_KEY_UNAVAILABLE, "unavailable"],
  [FAKE_GEMINI_KEY_HANG, "hang"],
]);

const SERVICE = "generativelanguage.googleapis.com";
const FAKE_PROJECT_NUMBER = "123456789012";

function googleError(code: number, status: string, message: string, details: unknown[] = [], headers?: Record<string, string>): FakeReply {
  return { status: code, body: { error: { code, message, status, details } }, headers };
}

function errorInfo(reason: string, metadata: Record<string, string> = { service: SERVICE }): Record<string, unknown> {
  return { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com", metadata };
}

function localized(message: string): Record<string, unknown> {
  return { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message };
}

const INVALID_KEY = () =>
  googleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
    errorInfo("API_KEY_INVALID"),
    localized("API key not valid. Please pass a valid API key."),
  ]);
const EXPIRED_KEY = () =>
  googleError(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", [
    errorInfo("API_KEY_EXPIRED"),
    localized("API key expired. Please renew the API key."),
  ]);
const TOKEN_TYPE_UNSUPPORTED = () =>
  googleError(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    [
      errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", {
        service: SERVICE,
        method: "google.ai.generativelanguage.v1beta.ModelService.ListModels",
      }),
    ],
  );
const SERVICE_DISABLED = () =>
  googleError(
    403,
    "PERMISSION_DENIED",
    `Generative Language API has not been used in project ${FAKE_PROJECT_NUMBER} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/${SERVICE}/overview?project=${FAKE_PROJECT_NUMBER} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`,
    [
      errorInfo("SERVICE_DISABLED", {
        consumer: `projects/${FAKE_PROJECT_NUMBER}`,
        service: SERVICE,
        serviceTitle: "Generative Language API",
        activationUrl: `https://console.developers.google.com/apis/api/${SERVICE}/overview?project=${FAKE_PROJECT_NUMBER}`,
        containerInfo: FAKE_PROJECT_NUMBER,
      }),
    ],
  );
const RATE_LIMITED = () =>
  googleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [
    {
      "@type": "type.googleapis.com/google.rpc.QuotaFailure",
      violations: [{ quotaMetric: `${SERVICE}/generate_content_free_tier_requests`, quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" }],
    },
    { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" },
  ]);
const UNAVAILABLE = () => googleError(503, "UNAVAILABLE", "The service is currently unavailable.");
const UNREGISTERED = () =>
  googleError(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  );

const MODELS = [
  {
    name: "models/gemini-2.5-flash",
    version: "001",
    displayName: "Gemini 2.5 Flash",
    description: "Stable version of Gemini 2.5 Flash.",
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ["generateContent", "countTokens"],
  },
  {
    name: "models/gemini-2.5-pro",
    version: "2.5",
    displayName: "Gemini 2.5 Pro",
    description: "Stable release of Gemini 2.5 Pro.",
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ["generateContent", "countTokens"],
  },
];

function listModels(req: RecordedRequest): FakeReply {
  const raw = req.query.get("pageSize");
  const pageSize = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    return googleError(400, "INVALID_ARGUMENT", `Invalid value at 'page_size' (TYPE_INT32), "${raw}"`);
  }
  const size = pageSize === 0 ? 50 : Math.min(pageSize, 1000);
  const models = MODELS.slice(0, size);
  return {
    status: 200,
    body: size < MODELS.length ? { models, nextPageToken: "Ch1tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaA==" } : { models },
  };
}

function handle(req: RecordedRequest, mode: GeminiFakeMode): FakeReply | "hang" {
  if (mode === "hang") return "hang";
  if (mode === "unavailable") return UNAVAILABLE();
  if (mode === "rate_limited") return RATE_LIMITED();

  if (req.method !== "GET" || req.pathname !== "/v1beta/models") {
    return googleError(404, "NOT_FOUND", `Method not found: ${req.method} ${req.pathname}`);
  }
  const key = header(req, "x-goog-api-key") ?? req.query.get("key");
  if (!key) return UNREGISTERED();
  const behaviour = KEYS.get(key);
  switch (behaviour) {
    case undefined:
      return INVALID_KEY();
    case "hang":
      return "hang";
    case "expired":
      return EXPIRED_KEY();
    case "token_type":
      return TOKEN_TYPE_UNSUPPORTED();
    case "service_disabled":
      return SERVICE_DISABLED();
    case "rate_limited":
      return RATE_LIMITED();
    case "unavailable":
      return UNAVAILABLE();
    case "ok":
      return listModels(req);
  }
}

export async function startGeminiFake(opts: FakeServerOptions = {}): Promise<GeminiFake> {
  return startFakeServer<GeminiFakeMode>(handle, "normal", opts);
}
