import "server-only";

import crypto from "node:crypto";

import { DefaultRequestSigner, Realm, Region, SimpleAuthenticationDetailsProvider } from "oci-common";

import { AppError } from "../../../errors";
import { openRsaPrivateKey, PrivateKeyError } from "../../../kms/private-key";
import { classifyHttpStatus, combineChecks, fetchWithTimeout, getPath, isRecord, joinUrl, safeToken, skippedCheck, timedCheck, toCheck, tokenSuffix, unexpectedBody, unexpectedStatus, type CheckBody, type HttpOutcome, type HttpReply, NOT_RUN_AFTER_AUTH, definitionOf } from "../http";
import type { CheckResult, ConnectionTest, ConnectionTestContext, ConnectionTestResult, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * Oracle Cloud (OCI) API signing key (docs/providers.md, "Oracle Cloud").
 *
 * Before any request the private key is opened with node:crypto: it must be RSA of at least 2048
 * bits, decrypt with the given passphrase (if encrypted) and match the given fingerprint (MD5 of the
 * DER SubjectPublicKeyInfo). Problems there are format problems of the credential (400
 * invalid_format naming the field), not a verdict of the provider.
 *
 * Requests are signed by OCI's own signer (`DefaultRequestSigner` from oci-common, the TypeScript
 * SDK's implementation of draft-cavage-http-signatures-08 / rsa-sha256): `x-date (request-target)
 * host` for GET, plus `content-type content-length x-content-sha256` for POST. The date comes from
 * the injected clock. The signer gets an unencrypted PKCS#1 copy of the key produced by node:crypto,
 * so every PEM form node reads (PKCS#1, PKCS#8, encrypted or not) works alike.
 *
 * 1. authenticate: GET {identity}/20160918/users/{user_ocid}. A wrong key, fingerprint, user or
 *    tenancy is refused with 401 NotAuthenticated before any authorization
 *    (https://docs.oracle.com/iaas/Content/API/References/apierrors.htm: 401 NotAuthenticated "The
 *    required information to complete authentication was not provided or was incorrect"). A user
 *    does NOT read its own record by default: "Managing User Credentials"
 *    (https://docs.oracle.com/iaas/Content/Identity/access/managing-user-credentials.htm) lists only
 *    its password and API keys as what a user manages without a policy, and Oracle's examples grant
 *    self-read explicitly (`allow any-user to {USER_INSPECT, USER_READ} in tenancy where
 *    request.principal.id = target.user.id`). So a least-privilege user whose group may only
 *    `read usage-report` gets 404 NotAuthorizedOrNotFound here (apierrors.htm: "Authorization
 *    failed or requested resource not found"): after a correctly signed request that proves the
 *    key authenticated. The user's name stays unknown and the usage check runs.
 * 2. read_costs: POST {usage}/20200107/usage (RequestSummarizedUsages) for yesterday, DAILY, COST.
 *
 * Hosts are built from the region's realm: `identity.{region}.oci.{secondLevelDomain}` (the OCI
 * SDKs' endpoint template; the realm table is oci-common's `Realm`/`Region`, e.g. oc1 →
 * oraclecloud.com, oc2/oc3 → oraclegovcloud.com, oc4 → oraclegovcloud.uk, oc19 → oraclecloud.eu).
 */

/** The usage policy as the registry states it (cost_permissions); tests compare against this text. */
export const OCI_USAGE_POLICY = "Allow group <group> to read usage-report in tenancy";

/** The policy statement to name in a message: the registry's, never a hand copy. */
function usagePolicy(ctx: ConnectionTestContext): string {
  const perms = definitionOf(ctx).cost_permissions;
  return perms.find((p) => /^allow\b.*usage-report/i.test(p)) ?? perms[0] ?? OCI_USAGE_POLICY;
}

const NOT_RUN = NOT_RUN_AFTER_AUTH;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 4096;
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;
const REGION = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

let regionRealms: Map<string, { realmId: string; domain: string }> | null = null;

/** oci-common's built-in region table (no config file, env or IMDS lookups). */
function knownRegions(): Map<string, { realmId: string; domain: string }> {
  if (!regionRealms) {
    regionRealms = new Map(Region.values().map((r) => [r.regionId, { realmId: r.realm.realmId, domain: r.realm.secondLevelDomain }]));
  }
  return regionRealms;
}

/**
 * The realm's second-level domain for a region (`oraclecloud.com`, `oraclegovcloud.com`,
 * `oraclecloud.eu`, …). A region oci-common does not list yet takes the realm of the tenancy OCID
 * (`ocid1.tenancy.<realm>..…`); a region whose realm differs from the tenancy's is a format error
 * naming the region (the key could never authenticate there).
 */
export function ociRealmDomain(region: string, tenancyOcid: string | undefined): string {
  const tenancyRealm = /^ocid1\.tenancy\.(oc\d+)\./.exec(tenancyOcid ?? "")?.[1];
  const known = knownRegions().get(region);
  if (known) {
    if (tenancyRealm && tenancyRealm !== known.realmId) {
      const why = `is in realm ${known.realmId}, but the tenancy is in realm ${tenancyRealm}: use the tenancy's home region`;
      throw formatError("credential.region", why);
    }
    return known.domain;
  }
  const realm = tenancyRealm ? Realm.values().find((r) => r.realmId === tenancyRealm) : undefined;
  if (realm) return realm.secondLevelDomain;
  throw formatError("credential.region", "is not an OCI region this server knows (such as us-ashburn-1)");
}

/** Placeholders the registry's OCI endpoint templates use besides the credential's own fields. */
export function ociEndpointParams(credential: Record<string, unknown>): Record<string, string> {
  const region = typeof credential.region === "string" ? credential.region.trim() : "";
  if (!REGION.test(region)) return {};
  return { realm_domain: ociRealmDomain(region, typeof credential.tenancy_ocid === "string" ? credential.tenancy_ocid : undefined) };
}

const FIELD = {
  privateKey: "credential.private_key",
  passphrase: "credential.passphrase",
  fingerprint: "credential.fingerprint",
} as const;

export const OCI_KEY_MESSAGES = {
  weakKey: "must be an RSA key of 2048 bits or more",
  unreadable: "could not be read as a PEM private key: paste the whole file, including the BEGIN and END lines",
  openssh:
    "is an OpenSSH key, which OCI does not accept: use the PEM key from the console (Add API key → Generate API key pair) or one made with `openssl genrsa -out oci_api_key.pem 2048`",
  passphraseMissing: "is required: the private key is encrypted",
  passphraseWrong: "does not decrypt the private key",
  fingerprintMismatch: "does not match the private key: copy the fingerprint shown next to this key in the console",
} as const;

function formatError(field: string, why: string): AppError {
  return new AppError("invalid_format", `The Oracle Cloud (OCI) credential is not valid: ${field.replace(/^credential\./, "")} ${why}.`, {
    fields: { [field]: why },
  });
}

/**
 * Opens the PEM private key, or throws invalid_format naming the field at fault (private_key or
 * passphrase). Never includes node's error text (it may quote the input). Bounded
 * (lib/kms/private-key.ts): the PEM's own key-derivation parameters are capped before decrypting,
 * and the RSA size must be 2048–4096 bits, so no upload can hold the event loop.
 */
export function loadOciPrivateKey(pem: string, passphrase: string | undefined): crypto.KeyObject {
  if (/-----BEGIN OPENSSH PRIVATE KEY-----/.test(pem)) throw formatError(FIELD.privateKey, OCI_KEY_MESSAGES.openssh);
  try {
    return openRsaPrivateKey(pem, passphrase, { minBits: MIN_RSA_BITS, maxBits: MAX_RSA_BITS, sizeReason: OCI_KEY_MESSAGES.weakKey });
  } catch (e) {
    if (e instanceof PrivateKeyError) throw formatError(e.field === "passphrase" ? FIELD.passphrase : FIELD.privateKey, e.reason);
    throw e;
  }
}

/** OCI's key fingerprint: MD5 of the DER SubjectPublicKeyInfo, colon-separated lowercase hex. */
export function ociKeyFingerprint(key: crypto.KeyObject): string {
  const publicKey = key.type === "private" ? crypto.createPublicKey(key) : key;
  const der = publicKey.export({ type: "spki", format: "der" });
  const hex = crypto.createHash("md5").update(der).digest("hex");
  return (hex.match(/../g) ?? []).join(":");
}

// ---------------------------------------------------------------------------------------------

interface OciCredentialInput {
  tenancy: string;
  user: string;
  fingerprint: string;
  privateKey: string;
  passphrase: string | undefined;
  region: string;
}

function readCredential(ctx: ConnectionTestContext): OciCredentialInput {
  const c = ctx.credential;
  const str = (name: string): string => {
    const v = c[name];
    return typeof v === "string" ? v.trim() : "";
  };
  const missing = ["tenancy_ocid", "user_ocid", "fingerprint", "private_key", "region"].filter((n) => str(n) === "");
  if (missing.length > 0) {
    const fields = Object.fromEntries(missing.map((n) => [`credential.${n}`, "is required"]));
    throw new AppError("invalid_format", `The Oracle Cloud (OCI) credential is not valid: ${missing.map((n) => `${n} is required`).join("; ")}.`, {
      fields,
    });
  }
  const passphrase = typeof c.passphrase === "string" && c.passphrase !== "" ? c.passphrase : undefined;
  return {
    tenancy: str("tenancy_ocid"),
    user: str("user_ocid"),
    fingerprint: str("fingerprint").toLowerCase(),
    // As stored: PEM escapes were normalized once, at the format check (lib/integrations/schemas.ts).
    privateKey: str("private_key"),
    passphrase,
    region: str("region"),
  };
}

function endpoint(ctx: ConnectionTestContext, name: "identity_endpoint" | "usage_endpoint", region: string): string {
  const resolved = ctx.endpoints[name];
  if (resolved) return resolved;
  if (!REGION.test(region)) {
    throw new AppError("invalid_format", "The Oracle Cloud (OCI) credential is not valid: region must be an OCI region identifier such as us-ashburn-1.", {
      fields: { "credential.region": "must be an OCI region identifier such as us-ashburn-1" },
    });
  }
  return `https://${name === "identity_endpoint" ? "identity" : "usageapi"}.${region}.oci.${ociRealmDomain(region, credentialTenancy(ctx))}`;
}

function credentialTenancy(ctx: ConnectionTestContext): string | undefined {
  const t = ctx.credential.tenancy_ocid;
  return typeof t === "string" ? t : undefined;
}

/** Signs with OCI's signer and sends; every signature made is appended to `signatures`. */
class OciClient {
  private readonly signer: DefaultRequestSigner;
  readonly signatures: string[] = [];

  constructor(
    private readonly ctx: ConnectionTestContext,
    cred: OciCredentialInput,
    /** Unencrypted PKCS#1 PEM of the already validated key. */
    pkcs1Pem: string,
  ) {
    const provider = new SimpleAuthenticationDetailsProvider(cred.tenancy, cred.user, cred.fingerprint, pkcs1Pem, null);
    this.signer = new DefaultRequestSigner(provider);
  }

  async send(method: "GET" | "POST", url: string, body?: string): Promise<HttpOutcome> {
    // The signer would use the real clock; the date is set here from the injected one. http-signature
    // adds `date` when absent, so both carry the same value.
    const date = new Date(this.ctx.now()).toUTCString();
    const headers = new Headers({ accept: "application/json", date, "x-date": date });
    if (body !== undefined) headers.set("content-type", "application/json");
    await this.signer.signHttpRequest({ method, uri: url, headers, body });
    const auth = headers.get("authorization") ?? "";
    const sig = /signature="([^"]+)"/.exec(auth)?.[1];
    if (sig) this.signatures.push(sig, auth);
    return fetchWithTimeout(this.ctx, url, { method, headers, body });
  }
}

interface OciErrorBody {
  code: string | null;
}

function ociError(reply: HttpReply): OciErrorBody {
  return { code: safeToken(getPath(reply.json, "code")) };
}

/** Minutes our clock differs from the provider's (its Date header), when over OCI's 5-minute limit. */
function clockSkewMinutes(ctx: ConnectionTestContext, reply: HttpReply): number | null {
  const theirs = Date.parse(reply.headers.get("date") ?? "");
  if (Number.isNaN(theirs)) return null;
  const diff = Math.abs(theirs - ctx.now());
  return diff > MAX_CLOCK_SKEW_MS ? Math.round(diff / 60_000) : null;
}

function notAuthenticated(ctx: ConnectionTestContext, reply: HttpReply, err: OciErrorBody): CheckBody {
  const skew = clockSkewMinutes(ctx, reply);
  if (skew !== null) {
    return {
      outcome: "auth_failed",
      message:
        `OCI did not accept the request signature (HTTP 401${err.code ? `, ${err.code}` : ""}) and this server's clock differs from OCI's by about ${skew} minutes; ` +
        "OCI refuses signed requests more than 5 minutes off. Fix this server's time (NTP) and try again. " +
        "If it persists, check that the public key was uploaded to this user and the fingerprint matches.",
    };
  }
  return {
    outcome: "auth_failed",
    message:
      `OCI did not accept the request signature (HTTP 401${err.code ? `, ${err.code}` : ""}). ` +
      "Check that the public key was uploaded to this user and the fingerprint matches (and that user_ocid and tenancy_ocid are that user's); " +
      "also check the server clock (OCI refuses requests more than 5 minutes off).",
  };
}

function userName(json: unknown): string | null {
  const name = getPath(json, "name");
  if (typeof name !== "string") return null;
  const trimmed = name.trim();
  return trimmed !== "" && trimmed.length <= 255 && !/[\u0000-\u001f\u007f]/.test(trimmed) ? trimmed : null;
}

async function authenticate(
  ctx: ConnectionTestContext,
  client: OciClient,
  identity: string,
  cred: OciCredentialInput,
): Promise<{ check: CheckResult; name: string | null }> {
  let name: string | null = null;
  const check = await timedCheck("authenticate", async () => {
    const url = joinUrl(identity, `/20160918/users/${encodeURIComponent(cred.user)}`);
    const reply = await client.send("GET", url);
    if (reply.kind === "failure") return reply.check;
    const err = ociError(reply);
    if (reply.status === 200) {
      if (!isRecord(reply.json) || typeof reply.json.id !== "string") return unexpectedBody(ctx, url);
      name = userName(reply.json);
      return { outcome: "ok" };
    }
    if (reply.status === 401) return notAuthenticated(ctx, reply, err);
    if (reply.status === 404 && err.code === "NotAuthorizedOrNotFound") {
      // Signed correctly (a bad signature is a 401 first): authenticated; the user may just not read itself.
      return { outcome: "ok" };
    }
    if (reply.status === 403) {
      return {
        outcome: "permission_denied",
        message:
          `OCI refused this user access to its own user record (HTTP 403${tokenSuffix(err.code)}). ` +
          "Check the tenancy's policies and any network sources that restrict this user.",
      };
    }
    return classifyHttpStatus(ctx, reply, err.code) ?? unexpectedStatus(ctx, reply, url, err.code);
  });
  return { check, name };
}

/** "2026-09-14T00:00:00Z": the Usage API wants whole days in UTC. */
function utcDay(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function ociUsageRequestBody(tenancy: string, nowMs: number): string {
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  return JSON.stringify({
    tenantId: tenancy,
    timeUsageStarted: utcDay(today - DAY_MS),
    timeUsageEnded: utcDay(today),
    granularity: "DAILY",
    queryType: "COST",
  });
}

async function readCosts(ctx: ConnectionTestContext, client: OciClient, usage: string, cred: OciCredentialInput): Promise<CheckResult> {
  return timedCheck("read_costs", async () => {
    const url = joinUrl(usage, "/20200107/usage");
    const reply = await client.send("POST", url, ociUsageRequestBody(cred.tenancy, ctx.now()));
    if (reply.kind === "failure") return reply.check;
    const err = ociError(reply);
    if (reply.status === 200) {
      return Array.isArray(getPath(reply.json, "items")) ? { outcome: "ok" } : unexpectedBody(ctx, url);
    }
    if (reply.status === 401) return notAuthenticated(ctx, reply, err);
    // The tenancy is named in the request BODY (tenantId), and OCI's answer for a resource named in
    // the body that is missing or not authorized is 400 RelatedResourceNotAuthorizedOrNotFound
    // (https://docs.oracle.com/iaas/Content/API/References/apierrors.htm: "A resource specified in the
    // body of the request was not found, or you do not have authorization to access that resource";
    // https://github.com/oracle/oci-go-sdk/blob/master/common/eventual_consistency.go lists it beside
    // 404 NotAuthorizedOrNotFound as the answers a fresh policy change produces). Either is a missing
    // policy, never a provider fault.
    const denied =
      reply.status === 403 ||
      (reply.status === 404 && err.code === "NotAuthorizedOrNotFound") ||
      (reply.status === 400 && err.code === "RelatedResourceNotAuthorizedOrNotFound");
    if (denied) {
      return {
        outcome: "permission_denied",
        message:
          `This user cannot read the tenancy's cost data (HTTP ${reply.status}${tokenSuffix(err.code)}). ` +
          `Add this policy in the root compartment, for a group the user belongs to: "${usagePolicy(ctx)}"; then try again (a new policy can take a minute to apply).`,
      };
    }
    return classifyHttpStatus(ctx, reply, err.code) ?? unexpectedStatus(ctx, reply, url, err.code);
  });
}

export const testOciApiKey: ConnectionTest = async (ctx): Promise<ConnectionTestResult> => {
  const cred = readCredential(ctx);
  const key = loadOciPrivateKey(cred.privateKey, cred.passphrase);
  if (ociKeyFingerprint(key) !== cred.fingerprint) throw formatError(FIELD.fingerprint, OCI_KEY_MESSAGES.fingerprintMismatch);
  const identity = endpoint(ctx, "identity_endpoint", cred.region);
  const usage = endpoint(ctx, "usage_endpoint", cred.region);

  const pkcs1Pem = key.export({ type: "pkcs1", format: "pem" }) as string;
  const secrets = [cred.privateKey, pkcs1Pem, cred.passphrase];
  let client: OciClient;
  try {
    client = new OciClient(ctx, cred, pkcs1Pem);
  } catch {
    const failed = toCheck(
      "authenticate",
      { outcome: "provider_error", message: "The request to OCI could not be signed with this key. Try again; if it persists, report it to the operators." },
      0,
    );
    return combineChecks([failed, skippedCheck("read_costs", NOT_RUN)], { key_kind: "api_key", secrets });
  }

  const auth = await authenticate(ctx, client, identity, cred);
  const checks: CheckResult[] = [auth.check];
  let account: ConnectionTestResult["account"] = null;
  if (auth.check.outcome === "ok") {
    account = { id: cred.tenancy, name: auth.name };
    checks.push(await readCosts(ctx, client, usage, cred));
  } else {
    checks.push(skippedCheck("read_costs", NOT_RUN));
  }
  return combineChecks(checks, { account, key_kind: "api_key", secrets: [...secrets, ...client.signatures] });
};

/**
 * For pipelines: the request-signing material, from the same canonical credential and the same key
 * checks as the connection test (opened with the passphrase, RSA size bounds, fingerprint match).
 */
export const authenticateOci: PipelineAuthenticator = async (ctx) => {
  const cred = readCredential(ctx);
  const key = loadOciPrivateKey(cred.privateKey, cred.passphrase);
  if (ociKeyFingerprint(key) !== cred.fingerprint) throw formatError(FIELD.fingerprint, OCI_KEY_MESSAGES.fingerprintMismatch);
  return {
    kind: "oci_request_signing",
    provider: ctx.provider,
    key_id: `${cred.tenancy}/${cred.user}/${cred.fingerprint}`,
    private_key_pem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    region: cred.region,
    tenancy_ocid: cred.tenancy,
    expires_at: null,
  };
};

/** The tenancy that holds Oracle's cost and usage report bucket (Oracle's policy reference for cost reports). */
const OCI_USAGE_REPORT_TENANCY = "ocid1.tenancy.oc1..aaaaaaaaned4fkpkisbwjlr56u7cj63lf3wffbilvqknstgtvzub7vhqkggq";

export const ociSetupInfo: SetupInfoBuilder = async (provider) => {
  const statements = provider.cost_permissions.map((p) => p.replace(/<group>/g, "FinOpsReaders"));
  const endorse = statements.findIndex((p) => /^endorse /i.test(p));
  if (endorse >= 0) statements.splice(endorse, 0, `define tenancy usage-report as ${OCI_USAGE_REPORT_TENANCY}`);
  return {
    steps: [
      "Create a user in a group for the cost pipeline, and an API signing key (RSA, 2048 to 4096 bits) for that user.",
      "Add the policy statements below in the root compartment (the last two give read access to the cost and usage reports Oracle keeps in its own tenancy). The user does not need to read its own record.",
      "Paste the tenancy and user OCIDs, the key fingerprint, the private key (PEM) and the home region.",
    ],
    policy_statements: statements,
  };
};
