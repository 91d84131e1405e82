import {
  FAKE_OPENAI_ADMIN_KEY,
  FAKE_OPENAI_ADMIN_KEY_HANG,
  FAKE_OPENAI_ADMIN_KEY_INSUFFICIENT_QUOTA,
  FAKE_OPENAI_ADMIN_KEY_IP_NOT_AUTHORIZED,
  FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE,
  FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE_CODED,
  FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED,
  FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE,
  FAKE_OPENAI_KEY_NO_ORGANIZATION,
  FAKE_OPENAI_ORG_ID,
  FAKE_OPENAI_PROJECT_KEY,
  FAKE_OPENAI_PROJECT_KEY_IP_NOT_AUTHORIZED,
  FAKE_OPENAI_SERVICE_ACCOUNT_KEY,
} from "./keys";
import { header, startFakeServer, type FakeReply, type FakeServer, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * A local stand-in for https://api.openai.com answering /v1/models and /v1/organization/costs
 * like the real API (docs/providers.md, "OpenAI"): Bearer auth, 401 invalid_api_key with the key masked,
 * admin-only costs endpoint, 429 with Retry-After, 503, and an "Invalid URL" 404 for anything else.
 *
 * Scope errors: an admin key without usage read gets HTTP 401, `type: invalid_request_error`,
 * "You have insufficient permissions for this operation. Missing scopes: api.usage.read. …" with
 * `"code": null` as seen in the wild (continuedev/continue#10059, microsoft/PowerToys#32989,
 * openai/codex#31506), or `"code": "missing_scope"` as some client fixtures show (the
 * `..._NO_USAGE_SCOPE_CODED` key). A project or service-account key on the admin costs endpoint
 * gets 403 with the same message (observed in an integration's code comment; providers' docs say
 * only that admin endpoints need an Admin key). The code accepts all three.
 *
 * Refusals of a VALID key, from OpenAI's error-code guide
 * (https://developers.openai.com/api/docs/guides/error-codes) and IP-allowlist guide
 * (https://developers.openai.com/api/docs/guides/ip-allowlist):
 * - a request from an IP outside the organization's or project's allowlist is "rejected even if it
 *   includes a valid API key" with HTTP 401 and error code `ip_not_authorized` (the message text and
 *   `type` are not documented; only the status and code are relied on);
 * - 429 "You exceeded your current quota, please check your plan and billing details" (out of
 *   credit or at the monthly spend limit), body `type: "insufficient_quota"` with `code`
 *   "insufficient_quota" or null (observed: ChatGPTNextWeb/NextChat#3123 and #1792);
 * - 401 "You must be a member of an organization to use the API", code `no_organization`
 *   (observed: abi/screenshot-to-code#9).
 */

export type OpenAIFakeMode = "normal" | "hang" | "unavailable" | "rate_limited";
export type OpenAIFake = FakeServer<OpenAIFakeMode>;

type Behaviour =
  | "ok"
  | "no_usage_scope"
  | "no_usage_scope_coded"
  | "rate_limited"
  | "unavailable"
  | "hang"
  | "ip_not_authorized"
  | "insufficient_quota"
  | "no_organization";
interface KeyInfo {
  admin: boolean;
  behaviour: Behaviour;
}

const KEYS = new Map<string, KeyInfo>([
  [FAKE_OPENAI_ADMIN_KEY, { admin: true, behaviour: "ok" }],
  [FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE, { admin: true, behaviour: "no_usage_scope" }],
  [FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE_CODED, { admin: true, behaviour: "no_usage_scope_coded" }],
  [FAKE_OPENAI_ADMIN_KEY_RATE_LIMITED, { admin: true, behaviour: "rate_limited" }],
  [FAKE_OPENAI_ADMIN_KEY_UNAVAILABLE, { admin: true, behaviour: "unavailable" }],
  [FAKE_OPENAI_ADMIN_KEY_HANG, { admin: true, behaviour: "hang" }],
  [FAKE_OPENAI_PROJECT_KEY, { admin: false, behaviour: "ok" }],
  [FAKE_OPENAI_SERVICE_ACCOUNT_KEY, { admin: false, behaviour: "ok" }],
  [FAKE_OPENAI_ADMIN_KEY_IP_NOT_AUTHORIZED, { admin: true, behaviour: "ip_not_authorized" }],
  [FAKE_OPENAI_PROJECT_KEY_IP_NOT_AUTHORIZED, { admin: false, behaviour: "ip_not_authorized" }],
  [FAKE_OPENAI_ADMIN_KEY_INSUFFICIENT_QUOTA, { admin: true, behaviour: "insufficient_quota" }],
  [FAKE_OPENAI_KEY_NO_ORGANIZATION, { admin: false, behaviour: "no_organization" }],
]);

let requestCounter = 0;

function reply(status: number, body: unknown, headers: Record<string, string> = {}): FakeReply {
  requestCounter += 1;
  return {
    status,
    body,
    headers: { "x-request-id": `req_${requestCounter.toString(16).padStart(32, "0")}`, ...headers },
  };
}

function error(status: number, message: string, code: string | null, type = "invalid_request_error", param: string | null = null, headers?: Record<string, string>): FakeReply {
  return reply(status, { error: { message, type, param, code } }, headers);
}

/** The real API masks the key in its 401 message. */
function masked(key: string): string {
  const prefix = /^sk-[a-z]+-/.exec(key)?.[0] ?? key.slice(0, 3);
  return `${prefix}****${key.slice(-4)}`;
}

const RATE_LIMITED = () =>
  error(429, "Rate limit reached for requests. Please try again in 7s.", "rate_limit_exceeded", "requests", null, { "retry-after": "7" });
const UNAVAILABLE = () =>
  error(503, "The server is overloaded or not ready yet.", null, "server_error");
const IP_NOT_AUTHORIZED = () =>
  error(401, "Your request IP address is not in the IP allowlist of this organization or project.", "ip_not_authorized");
const INSUFFICIENT_QUOTA = () =>
  error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota");
const NO_ORGANIZATION = () =>
  error(401, "You must be a member of an organization to use the API. Please contact us through our help center at help.openai.com.", "no_organization");
const MISSING_SCOPE = (status: 401 | 403, code: string | null = null) =>
  error(
    status,
    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that you have the correct role in your organization (Owner), and if you're using a restricted API key, that it has the necessary scopes.",
    code,
  );

function listModels(): FakeReply {
  return reply(200, {
    object: "list",
    data: [
      { id: "gpt-4.1", object: "model", created: 1744316542, owned_by: "system" },
      { id: "gpt-4.1-mini", object: "model", created: 1744318173, owned_by: "system" },
    ],
  });
}

function costs(req: RecordedRequest): FakeReply {
  const startRaw = req.query.get("start_time");
  if (startRaw === null) {
    return error(400, "Missing required parameter: 'start_time'.", "missing_required_parameter", "invalid_request_error", "start_time");
  }
  if (!/^\d+$/.test(startRaw)) {
    return error(400, `Invalid type for 'start_time': expected an integer, but got a string instead.`, "invalid_type", "invalid_request_error", "start_time");
  }
  const limitRaw = req.query.get("limit") ?? "7";
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 180) {
    return error(400, `Invalid 'limit': integer must be between 1 and 180.`, "invalid_value", "invalid_request_error", "limit");
  }
  const start = Math.floor(Number(startRaw) / 86_400) * 86_400;
  return reply(200, {
    object: "page",
    data: [
      {
        object: "bucket",
        start_time: start,
        end_time: start + 86_400,
        results: [
          {
            object: "organization.costs.result",
            amount: { value: 1.2345, currency: "usd" },
            line_item: null,
            project_id: null,
          },
        ],
      },
    ],
    has_more: false,
    next_page: null,
  });
}

function handle(req: RecordedRequest, mode: OpenAIFakeMode): FakeReply | "hang" {
  if (mode === "hang") return "hang";
  if (mode === "unavailable") return UNAVAILABLE();
  if (mode === "rate_limited") return RATE_LIMITED();

  const route =
    req.method === "GET" && req.pathname === "/v1/models"
      ? "models"
      : req.method === "GET" && req.pathname === "/v1/organization/costs"
        ? "costs"
        : null;
  if (!route) return error(404, `Invalid URL (${req.method} ${req.pathname})`, null);

  const auth = header(req, "authorization");
  const bearer = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
  if (!bearer) {
    return error(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      null,
    );
  }
  const key = KEYS.get(bearer);
  if (!key) {
    return error(
      401,
      `Incorrect API key provided: ${masked(bearer)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      "invalid_api_key",
    );
  }
  const org = header(req, "openai-organization");
  if (org !== null && org !== FAKE_OPENAI_ORG_ID) {
    return error(401, "OpenAI-Organization header should match organization for API key", "mismatched_organization");
  }
  switch (key.behaviour) {
    case "hang":
      return "hang";
    case "unavailable":
      return UNAVAILABLE();
    case "rate_limited":
      return RATE_LIMITED();
    case "ip_not_authorized":
      return IP_NOT_AUTHORIZED();
    case "no_organization":
      return NO_ORGANIZATION();
    default:
      break;
  }

  if (route === "models") {
    // "Admin API keys cannot be used for non-administration endpoints" (docs/providers.md, "OpenAI"); the
    // exact status is not documented, 401 is assumed here.
    if (key.admin) return error(401, "Admin API keys cannot be used for non-administration endpoints.", null);
    return listModels();
  }
  // costs: admin keys only (a project key gets 403, docs/providers.md, "OpenAI" [O]).
  if (!key.admin) return MISSING_SCOPE(403);
  if (key.behaviour === "insufficient_quota") return INSUFFICIENT_QUOTA();
  if (key.behaviour === "no_usage_scope") return MISSING_SCOPE(401);
  if (key.behaviour === "no_usage_scope_coded") return MISSING_SCOPE(401, "missing_scope");
  return costs(req);
}

export async function startOpenAIFake(opts: FakeServerOptions = {}): Promise<OpenAIFake> {
  const fake = await startFakeServer<OpenAIFakeMode>(
    (req, mode) => {
      const out = handle(req, mode);
      if (out !== "hang") out.headers = { "openai-organization": "fake-org", "openai-version": "2020-10-01", ...out.headers };
      return out;
    },
    "normal",
    opts,
  );
  return fake;
}
