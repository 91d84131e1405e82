import {
  FAKE_ANTHROPIC_ADMIN_KEY,
  FAKE_ANTHROPIC_ADMIN_KEY_HANG,
  FAKE_ANTHROPIC_ADMIN_KEY_OVERLOADED,
  FAKE_ANTHROPIC_ADMIN_KEY_RATE_LIMITED,
  FAKE_ANTHROPIC_ADMIN_KEY_UNAVAILABLE,
  FAKE_ANTHROPIC_API_KEY,
  FAKE_ANTHROPIC_ORG,
} from "./keys";
import { header, startFakeServer, type FakeReply, type FakeServer, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * A local stand-in for https://api.anthropic.com answering /v1/models, /v1/organizations/me and
 * /v1/organizations/cost_report like the real API (docs/providers.md, "Anthropic"): `x-api-key` and
 * `anthropic-version` headers required, error bodies
 * `{"type":"error","error":{"type","message"},"request_id"}` with 401 authentication_error,
 * 403 permission_error, 404 not_found_error, 429 rate_limit_error, 529 overloaded_error.
 *
 * Sources, beside what the connection test relies on:
 * - error shape `{"type":"error","error":{"type","message"},"request_id"}` and the status ↔ type
 *   table (400 invalid_request_error, 401 authentication_error, 402 billing_error, 403
 *   permission_error, 404 not_found_error, 429 rate_limit_error, 500 api_error, 529
 *   overloaded_error): https://docs.anthropic.com/en/api/errors;
 * - headers `x-api-key` and `anthropic-version: 2023-06-01`, base https://api.anthropic.com:
 *   anthropics/anthropic-sdk-typescript src/client.ts;
 * - GET /v1/organizations/me → `{id, name, type: "organization"}`, and the cost report
 *   (`starting_at`, `limit`, `data`, `has_more`): https://docs.anthropic.com/en/api/admin-api/
 *   organization/get-me and https://docs.anthropic.com/en/api/usage-cost-api;
 * - 429 carries `retry-after` (seconds): https://docs.anthropic.com/en/api/rate-limits.
 * Where the sources are silent the code accepts both answers: a non-admin key refused by an
 * organization endpoint is permission_denied whether the status is 401 or 403.
 *
 * Assumptions (not documented): a workspace API key on /v1/organizations/* gets 403
 * permission_error (docs/providers.md: "403 permission_error means the key lacks access to the
 * resource"; workspace keys don't work on the Admin API); an admin key on /v1/models gets 401.
 */

export type AnthropicFakeMode = "normal" | "hang" | "unavailable" | "overloaded" | "rate_limited";
export type AnthropicFake = FakeServer<AnthropicFakeMode>;

type Behaviour = "ok" | "rate_limited" | "unavailable" | "overloaded" | "hang";
interface KeyInfo {
  admin: boolean;
  behaviour: Behaviour;
}

const KEYS = new Map<string, KeyInfo>([
  [FAKE_ANTHROPIC_ADMIN_KEY, { admin: true, behaviour: "ok" }],
  [FAKE_ANTHROPIC_ADMIN_KEY_RATE_LIMITED, { admin: true, behaviour: "rate_limited" }],
  [FAKE_ANTHROPIC_ADMIN_KEY_UNAVAILABLE, { admin: true, behaviour: "unavailable" }],
  [FAKE_ANTHROPIC_ADMIN_KEY_OVERLOADED, { admin: true, behaviour: "overloaded" }],
  [FAKE_ANTHROPIC_ADMIN_KEY_HANG, { admin: true, behaviour: "hang" }],
  [FAKE_ANTHROPIC_API_KEY, { admin: false, behaviour: "ok" }],
]);

let requestCounter = 0;

function requestId(): string {
  requestCounter += 1;
  return `req_011CFake${requestCounter.toString(36).padStart(14, "0")}`;
}

function reply(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): FakeReply {
  const id = requestId();
  return {
    status,
    body: body.type === "error" ? { ...body, request_id: id } : body,
    headers: { "request-id": id, ...headers },
  };
}

function error(status: number, type: string, message: string, headers?: Record<string, string>): FakeReply {
  return reply(status, { type: "error", error: { type, message } }, headers);
}

const RATE_LIMITED = () =>
  error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit.", { "retry-after": "7" });
const UNAVAILABLE = () => error(503, "api_error", "Service unavailable.");
const OVERLOADED = () => error(529, "overloaded_error", "Overloaded");

function isRfc3339(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value));
}

function costReport(req: RecordedRequest): FakeReply {
  const startingAt = req.query.get("starting_at");
  if (startingAt === null) return error(400, "invalid_request_error", "starting_at: Field required");
  if (!isRfc3339(startingAt)) return error(400, "invalid_request_error", "starting_at: Input should be a valid datetime");
  const limit = Number(req.query.get("limit") ?? "7");
  if (!Number.isInteger(limit) || limit < 1 || limit > 31) {
    return error(400, "invalid_request_error", "limit: Input should be between 1 and 31");
  }
  const start = new Date(Date.parse(startingAt));
  start.setUTCHours(0, 0, 0, 0);
  const end = new Date(start.getTime() + 86_400_000);
  return reply(200, {
    data: [
      {
        starting_at: start.toISOString().replace(".000Z", "Z"),
        ending_at: end.toISOString().replace(".000Z", "Z"),
        results: [
          {
            currency: "USD",
            amount: "123.4500",
            workspace_id: null,
            description: null,
            cost_type: null,
            context_window: null,
            model: null,
            service_tier: null,
            token_type: null,
          },
        ],
      },
    ],
    has_more: false,
    next_page: null,
  });
}

function handle(req: RecordedRequest, mode: AnthropicFakeMode): FakeReply | "hang" {
  if (mode === "hang") return "hang";
  if (mode === "unavailable") return UNAVAILABLE();
  if (mode === "overloaded") return OVERLOADED();
  if (mode === "rate_limited") return RATE_LIMITED();

  const route =
    req.method !== "GET"
      ? null
      : req.pathname === "/v1/models"
        ? "models"
        : req.pathname === "/v1/organizations/me"
          ? "me"
          : req.pathname === "/v1/organizations/cost_report"
            ? "cost_report"
            : null;
  if (!route) return error(404, "not_found_error", "Not found");

  const apiKey = header(req, "x-api-key");
  if (!apiKey) return error(401, "authentication_error", "x-api-key header is required");
  if (!header(req, "anthropic-version")) return error(400, "invalid_request_error", "anthropic-version: header is required");
  const key = KEYS.get(apiKey);
  if (!key) return error(401, "authentication_error", "invalid x-api-key");
  switch (key.behaviour) {
    case "hang":
      return "hang";
    case "unavailable":
      return UNAVAILABLE();
    case "overloaded":
      return OVERLOADED();
    case "rate_limited":
      return RATE_LIMITED();
    default:
      break;
  }

  if (route === "models") {
    if (key.admin) return error(401, "authentication_error", "invalid x-api-key");
    return reply(200, {
      data: [
        { type: "model", id: "claude-sonnet-4-5-20250929", display_name: "Claude Sonnet 4.5", created_at: "2025-09-29T00:00:00Z" },
        { type: "model", id: "claude-haiku-4-5-20251001", display_name: "Claude Haiku 4.5", created_at: "2025-10-01T00:00:00Z" },
      ],
      has_more: false,
      first_id: "claude-sonnet-4-5-20250929",
      last_id: "claude-haiku-4-5-20251001",
    });
  }
  if (!key.admin) {
    return error(403, "permission_error", "Your API key does not have permission to use the specified resource.");
  }
  if (route === "me") return reply(200, { id: FAKE_ANTHROPIC_ORG.id, type: "organization", name: FAKE_ANTHROPIC_ORG.name });
  return costReport(req);
}

export async function startAnthropicFake(opts: FakeServerOptions = {}): Promise<AnthropicFake> {
  return startFakeServer<AnthropicFakeMode>(handle, "normal", opts);
}
