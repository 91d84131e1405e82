import crypto from "node:crypto";

import { header, startFakeServer, type FakeReply, type FakeServer, type FakeServerOptions, type RecordedRequest } from "./server";

/**
 * A local stand-in for the OCI Identity API (`identity.{region}.oci.oraclecloud.com`) and Usage API
 * (`usageapi.{region}.oci.oraclecloud.com`), both on one port (point OCI_IDENTITY_ENDPOINT and
 * OCI_USAGE_ENDPOINT at `url`). Like the real service (docs/providers.md, "Oracle Cloud") it VERIFIES every request
 * signature (draft-cavage-http-signatures-08, rsa-sha256) on its own, with node:crypto only:
 *
 * - parses `Authorization: Signature version="1",keyId="<tenancy>/<user>/<fingerprint>",
 *   algorithm="rsa-sha256",headers="…",signature="…"`;
 * - requires `(request-target)`, `host` and `date` or `x-date` among the signed headers, plus
 *   `x-content-sha256`, `content-type` and `content-length` for POST/PUT/PATCH;
 * - rebuilds the signing string from the RECEIVED header values (`(request-target)` =
 *   `<lowercase method> <path?query>`) and verifies it with the public key registered for keyId;
 * - for bodies, checks `x-content-sha256` = base64 SHA-256 of the received body and
 *   `content-length` = its byte length;
 * - refuses a signed date more than 5 minutes from the fake's clock.
 * Any failure → 401 with OCI's NotAuthenticated body (exactly as the real API words it).
 *
 * Routes: `GET /20160918/users/{userId}` → a User (404 NotAuthorizedOrNotFound unless the user may
 * read itself, see `canReadSelf`; a bad signature is 401 first); `POST /20200107/usage` (RequestSummarizedUsages)
 * → one DAILY COST item, or, when the user's group has no `read usage-report` policy, 404
 * NotAuthorizedOrNotFound or (`usageDenial`) 400 RelatedResourceNotAuthorizedOrNotFound, OCI's
 * documented answer for a resource named in the body, as the tenancy is here
 * (https://docs.oracle.com/iaas/Content/API/References/apierrors.htm). Modes force 429
 * TooManyRequests (Retry-After: 7), 503 or no answer.
 */

export type OciFakeMode = "normal" | "rate_limited" | "unavailable" | "hang";

export interface OciFakeUser {
  tenancy: string;
  user: string;
  fingerprint: string;
  /** The public key uploaded for this fingerprint (PEM, SPKI or PKCS#1). */
  publicKeyPem: string;
  /** The user's name (returned by GET users). */
  name: string;
  /** Whether a policy lets the user's group `read usage-report in tenancy`; default true. */
  canReadUsage?: boolean;
  /**
   * How the Usage API refuses a tenancy the user may not read (named in the body): 404
   * NotAuthorizedOrNotFound (default) or 400 RelatedResourceNotAuthorizedOrNotFound (apierrors.htm:
   * "A resource specified in the body of the request was not found, or you do not have authorization
   * to access that resource"). The code accepts both.
   */
  usageDenial?: "NotAuthorizedOrNotFound" | "RelatedResourceNotAuthorizedOrNotFound";
  /**
   * Whether a policy lets the user read its own record; without one GET users/{self} is 404
   * NotAuthorizedOrNotFound. Default FALSE, as in a real tenancy: Oracle grants a user no self-read
   * by default ("Managing User Credentials",
   * https://docs.oracle.com/iaas/Content/Identity/access/managing-user-credentials.htm, lists only
   * its password and API keys; Oracle's policy examples add `allow any-user to {USER_INSPECT,
   * USER_READ} in tenancy where request.principal.id = target.user.id` explicitly).
   */
  canReadSelf?: boolean;
}

/** What the fake concluded about one request's signature. */
export interface OciVerification {
  method: string;
  path: string;
  keyId: string | null;
  /** Signed header names as listed in the Authorization header, lowercased. */
  signedHeaders: string[];
  ok: boolean;
  /** Why it was refused (for test diagnostics; never sent to the client). */
  reason?: string;
}

export interface OciFake extends FakeServer<OciFakeMode> {
  registerUser(user: OciFakeUser): void;
  /** Forgets every registered user and key. */
  clearUsers(): void;
  /** Shifts the fake's clock (ms; positive = the fake is ahead). */
  setClockOffset(ms: number): void;
  /** One entry per request, in order. */
  verifications: OciVerification[];
}

export interface OciFakeOptions extends FakeServerOptions {
  /** The fake's clock (ms since epoch); default Date.now. */
  now?: () => number;
}

export const OCI_NOT_AUTHENTICATED = {
  code: "NotAuthenticated",
  message: "The required information to complete authentication was not provided or was incorrect.",
} as const;

export const OCI_NOT_AUTHORIZED_OR_NOT_FOUND = {
  code: "NotAuthorizedOrNotFound",
  message: "Authorization failed or requested resource not found.",
} as const;

export const OCI_RELATED_RESOURCE_NOT_AUTHORIZED_OR_NOT_FOUND = {
  code: "RelatedResourceNotAuthorizedOrNotFound",
  message: "Authorization failed or related resource not found.",
} as const;

/** The most a signed date may be off from the fake's clock (OCI: 5 minutes). */
export const OCI_MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

interface RegisteredKey {
  user: Required<OciFakeUser>;
  publicKey: crypto.KeyObject;
}

let requestCounter = 0;

function reply(status: number, body: unknown, headers: Record<string, string> = {}): FakeReply {
  requestCounter += 1;
  return {
    status,
    body,
    headers: { "opc-request-id": `FAKE${requestCounter.toString(16).toUpperCase().padStart(28, "0")}`, ...headers },
  };
}

/** Parses `Signature k="v",k="v"` into its parameters, or null. */
function parseSignatureHeader(value: string): Record<string, string> | null {
  const m = /^Signature\s+(.*)$/i.exec(value.trim());
  if (!m?.[1]) return null;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z]+)="([^"]*)"\s*(?:,|$)/y;
  let consumed = 0;
  const rest = m[1];
  while (consumed < rest.length) {
    re.lastIndex = consumed;
    const p = re.exec(rest);
    if (!p?.[1]) return null;
    params[p[1]] = p[2] ?? "";
    consumed = re.lastIndex;
  }
  return params;
}

type Verified = { ok: true; key: RegisteredKey } | { ok: false; reason: string };

function verifySignature(req: RecordedRequest, keys: Map<string, RegisteredKey>, nowMs: number, record: OciVerification): Verified {
  const auth = header(req, "authorization");
  if (!auth) return { ok: false, reason: "no Authorization header" };
  const params = parseSignatureHeader(auth);
  if (!params) return { ok: false, reason: "Authorization is not a Signature header" };
  record.keyId = params.keyId ?? null;
  if (params.version !== "1") return { ok: false, reason: `version is ${params.version ?? "missing"}` };
  if (params.algorithm !== "rsa-sha256") return { ok: false, reason: `algorithm is ${params.algorithm ?? "missing"}` };
  if (!params.keyId || !params.signature) return { ok: false, reason: "keyId or signature missing" };
  const signed = (params.headers ?? "date").trim().split(/\s+/).map((h) => h.toLowerCase());
  record.signedHeaders = signed;

  const required = ["(request-target)", "host"];
  if (BODY_METHODS.has(req.method)) required.push("x-content-sha256", "content-type", "content-length");
  for (const name of required) if (!signed.includes(name)) return { ok: false, reason: `${name} not signed` };
  const dateHeader = signed.includes("x-date") ? "x-date" : signed.includes("date") ? "date" : null;
  if (!dateHeader) return { ok: false, reason: "neither date nor x-date signed" };

  const lines: string[] = [];
  for (const name of signed) {
    if (name === "(request-target)") {
      lines.push(`(request-target): ${req.method.toLowerCase()} ${req.path}`);
      continue;
    }
    const value = header(req, name);
    if (value === null) return { ok: false, reason: `signed header ${name} not sent` };
    lines.push(`${name}: ${value}`);
  }

  const key = keys.get(params.keyId);
  if (!key) return { ok: false, reason: "unknown keyId" };
  const ok = crypto.verify("sha256", Buffer.from(lines.join("\n"), "utf8"), key.publicKey, Buffer.from(params.signature, "base64"));
  if (!ok) return { ok: false, reason: "signature does not verify" };

  const at = Date.parse(header(req, dateHeader) ?? "");
  if (Number.isNaN(at)) return { ok: false, reason: `${dateHeader} is not a date` };
  if (Math.abs(at - nowMs) > OCI_MAX_CLOCK_SKEW_MS) return { ok: false, reason: `${dateHeader} is more than 5 minutes off` };

  if (BODY_METHODS.has(req.method)) {
    const body = Buffer.from(req.body, "utf8");
    const sha = crypto.createHash("sha256").update(body).digest("base64");
    if (header(req, "x-content-sha256") !== sha) return { ok: false, reason: "x-content-sha256 does not match the body" };
    if (header(req, "content-length") !== String(body.length)) return { ok: false, reason: "content-length does not match the body" };
  }
  return { ok: true, key };
}

function isMidnightUtc(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const t = Date.parse(value);
  return !Number.isNaN(t) && t % 86_400_000 === 0;
}

function usage(req: RecordedRequest, key: RegisteredKey): FakeReply {
  let body: unknown;
  try {
    body = JSON.parse(req.body) as unknown;
  } catch {
    return reply(400, { code: "InvalidParameter", message: "The request body is not valid JSON." });
  }
  const b = (body ?? {}) as Record<string, unknown>;
  const denied = () =>
    key.user.usageDenial === "RelatedResourceNotAuthorizedOrNotFound"
      ? reply(400, OCI_RELATED_RESOURCE_NOT_AUTHORIZED_OR_NOT_FOUND)
      : reply(404, OCI_NOT_AUTHORIZED_OR_NOT_FOUND);
  if (b.tenantId !== key.user.tenancy) return denied();
  if (!isMidnightUtc(b.timeUsageStarted) || !isMidnightUtc(b.timeUsageEnded)) {
    return reply(400, { code: "InvalidParameter", message: "timeUsageStarted and timeUsageEnded must be dates at 00:00:00 UTC." });
  }
  if (Date.parse(b.timeUsageEnded) <= Date.parse(b.timeUsageStarted)) {
    return reply(400, { code: "InvalidParameter", message: "timeUsageEnded must be after timeUsageStarted." });
  }
  if (!["HOURLY", "DAILY", "MONTHLY", "TOTAL"].includes(String(b.granularity))) {
    return reply(400, { code: "InvalidParameter", message: "granularity is invalid." });
  }
  if (b.queryType !== undefined && !["USAGE", "COST", "CREDIT", "EXPIREDCREDIT", "ALLCREDIT"].includes(String(b.queryType))) {
    return reply(400, { code: "InvalidParameter", message: "queryType is invalid." });
  }
  if (!key.user.canReadUsage) return denied();
  return reply(200, {
    groupBy: null,
    items: [
      {
        tenantId: key.user.tenancy,
        computedAmount: 12.34,
        currency: "USD",
        timeUsageStarted: new Date(Date.parse(b.timeUsageStarted)).toISOString(),
        timeUsageEnded: new Date(Date.parse(b.timeUsageEnded)).toISOString(),
      },
    ],
  });
}

function getUser(userId: string, key: RegisteredKey): FakeReply {
  if (userId !== key.user.user || !key.user.canReadSelf) return reply(404, OCI_NOT_AUTHORIZED_OR_NOT_FOUND);
  return reply(200, {
    id: key.user.user,
    name: key.user.name,
    description: `${key.user.name} (fake)`,
    compartmentId: key.user.tenancy,
    lifecycleState: "ACTIVE",
    timeCreated: "2026-01-05T10:00:00.000Z",
    isMfaActivated: false,
  });
}

export async function startOciFake(opts: OciFakeOptions = {}): Promise<OciFake> {
  const keys = new Map<string, RegisteredKey>();
  const verifications: OciVerification[] = [];
  const clock = opts.now ?? Date.now;
  let offset = 0;

  const server = await startFakeServer<OciFakeMode>(
    (req, mode) => {
      if (mode === "hang") return "hang";
      const out = handle(req, mode);
      // The real API's Date header is its own clock: a client can compare it with its own.
      out.headers = { date: new Date(clock() + offset).toUTCString(), ...out.headers };
      return out;
    },
    "normal",
    opts,
  );

  function handle(req: RecordedRequest, mode: OciFakeMode): FakeReply {
    const record: OciVerification = { method: req.method, path: req.path, keyId: null, signedHeaders: [], ok: false };
    verifications.push(record);
    const verdict = verifySignature(req, keys, clock() + offset, record);
    if (!verdict.ok) {
      record.reason = verdict.reason;
      return reply(401, OCI_NOT_AUTHENTICATED);
    }
    record.ok = true;
    if (mode === "rate_limited") return reply(429, { code: "TooManyRequests", message: "Too many requests for the user" }, { "retry-after": "7" });
    if (mode === "unavailable") return reply(503, { code: "ServiceUnavailable", message: "Service is temporarily unavailable." });

    const user = /^\/20160918\/users\/([^/]+)$/.exec(req.pathname);
    if (user?.[1] && req.method === "GET") return getUser(decodeURIComponent(user[1]), verdict.key);
    if (req.pathname === "/20200107/usage" && req.method === "POST") return usage(req, verdict.key);
    return reply(404, { code: "NotFound", message: "Not Found" });
  }

  const clearRequests = server.clearRequests.bind(server);
  return Object.assign(server, {
    verifications,
    clearRequests() {
      clearRequests();
      verifications.length = 0;
    },
    registerUser(user: OciFakeUser) {
      keys.set(`${user.tenancy}/${user.user}/${user.fingerprint}`, {
        user: {
          ...user,
          canReadUsage: user.canReadUsage ?? true,
          canReadSelf: user.canReadSelf ?? false,
          usageDenial: user.usageDenial ?? "NotAuthorizedOrNotFound",
        },
        publicKey: crypto.createPublicKey(user.publicKeyPem),
      });
    },
    clearUsers() {
      keys.clear();
    },
    setClockOffset(ms: number) {
      offset = ms;
    },
  });
}
