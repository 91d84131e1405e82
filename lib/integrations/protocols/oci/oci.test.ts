import crypto from "node:crypto";
import net from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { OCI_NOT_AUTHENTICATED, startOciFake, type OciFake } from "@/tests/fakes/oci";
import { fakeOcid, makeOciApiKey, ociFingerprint, type OciCredential, type OciTestKey } from "@/tests/fakes/oci-keys";

import { AppError } from "../../../errors";
import { OCI_USAGE_POLICY, ociKeyFingerprint, ociRealmDomain, ociUsageRequestBody, testOciApiKey } from "./index";
import { resolveEndpoints, runConnectionTest } from "../index";
import { tinyBudget } from "@/tests/support/pacing";
import { resolveProvider } from "../../registry";
import { buildCredentialSchema } from "../../schemas";
import type { ConnectionTestContext, ConnectionTestResult } from "../types";

// A public key and its fingerprint as `openssl rsa -pubout -outform DER | openssl md5 -c` prints it
// (the way Oracle's docs compute it): an independent check of the fingerprint code.
const OPENSSL_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlCbyb6q/YGeUbj7yAMOS
ch2q2ctHBDuoMbvNZYF0K/geZ8d5+6h+dDToLkLvZo9scnQb09Ckv7AvwYPfFrti
V1/pehO6++4zzi1bdj2lK17RXPwqI8cWxqJrKRPE0zddDaoe6FwQ/RVWy4gihswj
fO0Ue0dUzAAZBw2ai5jf4cKKWSgnVuXc6QH/T1Cml/3/KVR82XsnDZyvBNOQQPX3
H2wQDYt3lLzHV6VYpeTh1Tgl/7pvzDPPaXnMU2xcmnesarrq0JkAkq8MtMAmcw9F
t8S5net6PpOdbsKGoy545YOZFJ9uyEGPYOqikvrYbTB2UgTbK1iENYPH58rBQ6bE
PwIDAQAB
-----END PUBLIC KEY-----
`;
const OPENSSL_FINGERPRINT = "c2:a7:50:4f:46:c8:1a:60:99:db:7a:34:ef:fb:20:3f";

const USER_NAME = "finops-reader@example.com";
const MINUTE = 60_000;

function ctxFor(url: string, credential: OciCredential, overrides: Partial<ConnectionTestContext> = {}): ConnectionTestContext {
  return {
    provider: "oci",
    providerName: "Oracle Cloud (OCI)",
    credential: { ...credential },
    endpoints: { identity_endpoint: url, usage_endpoint: url },
    org: "acme",
    externalId: "cm-test-external-id",
    timeoutMs: 5_000,
    fetch: globalThis.fetch,
    pace: async () => {},
    now: Date.now,
    ...overrides,
  };
}

async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function check(result: ConnectionTestResult, name: string) {
  const found = result.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check ${name} in ${JSON.stringify(result.checks)}`);
  return found;
}

/** The secret material of a credential: every PEM body line, the whole PEM, the passphrase. */
function secretParts(credential: OciCredential): string[] {
  const lines = credential.private_key
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("-----") && !/^(Proc-Type|DEK-Info):/.test(l));
  const parts = [credential.private_key, ...lines];
  if (credential.passphrase) parts.push(credential.passphrase);
  return parts;
}

/** Every signature (and Authorization header) the fake received. */
function signaturesSeen(fake: OciFake): string[] {
  const out: string[] = [];
  for (const r of fake.requests) {
    const auth = r.headers.authorization;
    if (typeof auth !== "string") continue;
    out.push(auth);
    const sig = /signature="([^"]+)"/.exec(auth)?.[1];
    if (sig) out.push(sig, sig.slice(0, 40), sig.slice(-40));
  }
  return out;
}

function expectNoSecrets(text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    if (s.length < 6) continue;
    if (text.includes(s)) throw new Error(`output contains secret material: ${s.slice(0, 6)}…`);
  }
}

function appErrorText(e: AppError): string {
  return JSON.stringify({ message: e.message, body: e.toBody(), extra: e.extra });
}

// ---------------------------------------------------------------------------------------------

describe("OCI key helpers", () => {
  it("computes OCI's fingerprint (MD5 of the DER SubjectPublicKeyInfo) like openssl does", () => {
    expect(ociKeyFingerprint(crypto.createPublicKey(OPENSSL_PUBLIC_KEY))).toBe(OPENSSL_FINGERPRINT);
    expect(ociFingerprint(OPENSSL_PUBLIC_KEY)).toBe(OPENSSL_FINGERPRINT);
  });

  it("asks the Usage API for yesterday, whole UTC days, DAILY COST", () => {
    const body = JSON.parse(ociUsageRequestBody("ocid1.tenancy.oc1..aaaa", Date.UTC(2026, 8, 15, 12, 34, 56))) as unknown;
    expect(body).toEqual({
      tenantId: "ocid1.tenancy.oc1..aaaa",
      timeUsageStarted: "2026-09-14T00:00:00Z",
      timeUsageEnded: "2026-09-15T00:00:00Z",
      granularity: "DAILY",
      queryType: "COST",
    });
  });

  it("makes credentials that pass the registry's patterns", () => {
    const k = makeOciApiKey({ seed: "patterns" });
    expect(k.credential.tenancy_ocid).toMatch(/^ocid1\.tenancy\.oc\d+\.\.[a-z0-9]+$/);
    expect(k.credential.user_ocid).toMatch(/^ocid1\.user\.oc\d+\.\.[a-z0-9]+$/);
    expect(k.credential.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(k.credential.region).toMatch(/^[a-z]{2,}-[a-z]+-\d+$/);
  });
});

describe("OCI API key connection test", () => {
  let fake: OciFake;
  let main: OciTestKey;
  let other: OciTestKey;
  let encrypted: OciTestKey;
  let encryptedPkcs1: OciTestKey;
  let weak: OciTestKey;
  let ec: OciTestKey;
  const PASSPHRASE = "correct horse battery staple 42";

  /** Registers a key's user with the fake (by default with that key's own public half). */
  const register = (
    k: OciTestKey,
    extra: { publicKeyPem?: string; canReadUsage?: boolean; canReadSelf?: boolean; usageDenial?: "NotAuthorizedOrNotFound" | "RelatedResourceNotAuthorizedOrNotFound" } = {},
  ) =>
    fake.registerUser({
      tenancy: k.credential.tenancy_ocid,
      user: k.credential.user_ocid,
      fingerprint: k.fingerprint,
      publicKeyPem: extra.publicKeyPem ?? k.publicKeyPem,
      name: USER_NAME,
      canReadUsage: extra.canReadUsage,
      canReadSelf: extra.canReadSelf ?? true,
      usageDenial: extra.usageDenial,
    });

  /** Runs the test and checks that nothing secret came back. */
  const run = async (credential: OciCredential, overrides: Partial<ConnectionTestContext> = {}, url = fake.url) => {
    const result = await testOciApiKey(ctxFor(url, credential, overrides));
    expectNoSecrets(JSON.stringify(result), [...secretParts(credential), ...signaturesSeen(fake)]);
    return result;
  };

  /** Runs the test expecting an AppError; checks that it carries nothing secret. */
  const runExpectingError = async (credential: OciCredential): Promise<AppError> => {
    let caught: unknown;
    try {
      await testOciApiKey(ctxFor(fake.url, credential));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    const err = caught as AppError;
    expectNoSecrets(appErrorText(err), secretParts(credential));
    return err;
  };

  beforeAll(async () => {
    fake = await startOciFake();
    main = makeOciApiKey({ seed: "main" });
    other = makeOciApiKey({ seed: "other" });
    encrypted = makeOciApiKey({ seed: "encrypted", passphrase: PASSPHRASE });
    encryptedPkcs1 = makeOciApiKey({ seed: "encrypted-pkcs1", passphrase: PASSPHRASE, format: "pkcs1" });
    weak = makeOciApiKey({ seed: "weak", bits: 1024 });
    ec = makeOciApiKey({ seed: "ec", type: "ec" });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.clearUsers();
    fake.clearRequests();
  });
  afterEach(() => {
    fake.setMode("normal");
    fake.setClockOffset(0);
  });

  it("passes with a working key: account is the tenancy and the user's name, key_kind api_key", async () => {
    register(main);
    const result = await run(main.credential);
    expect(result.outcome).toBe("ok");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(result.account).toEqual({ id: main.credential.tenancy_ocid, name: USER_NAME });
    expect(result.key_kind).toBe("api_key");
  });

  it("sends requests the fake verified: signed GET users and signed POST usage", async () => {
    register(main);
    const now = Date.UTC(2026, 8, 15, 12, 34, 56);
    // The fake's clock follows the injected one, so the signed date is checked against it.
    fake.setClockOffset(now - Date.now());
    const result = await run(main.credential, { now: () => now });
    expect(result.outcome).toBe("ok");

    expect(fake.verifications).toHaveLength(2);
    expect(fake.verifications.every((v) => v.ok)).toBe(true);
    const keyId = `${main.credential.tenancy_ocid}/${main.credential.user_ocid}/${main.fingerprint}`;
    expect(fake.verifications.map((v) => v.keyId)).toEqual([keyId, keyId]);

    const [get, post] = fake.requests;
    expect(get?.method).toBe("GET");
    expect(get?.path).toBe(`/20160918/users/${main.credential.user_ocid}`);
    expect(fake.verifications[0]?.signedHeaders).toEqual(expect.arrayContaining(["(request-target)", "host"]));
    expect(fake.verifications[0]?.signedHeaders.some((h) => h === "date" || h === "x-date")).toBe(true);
    expect(get?.headers.authorization).toMatch(
      new RegExp(
        `^Signature version="1",keyId="${keyId.replace(/\./g, "\\.")}",algorithm="rsa-sha256",headers="[^"]+",signature="[A-Za-z0-9+/]+=*"$`,
      ),
    );
    expect(get?.headers["x-date"]).toBe("Tue, 15 Sep 2026 12:34:56 GMT");

    expect(post?.method).toBe("POST");
    expect(post?.path).toBe("/20200107/usage");
    expect(fake.verifications[1]?.signedHeaders).toEqual(
      expect.arrayContaining(["(request-target)", "host", "x-content-sha256", "content-type", "content-length"]),
    );
    expect(post?.headers["x-content-sha256"]).toBe(crypto.createHash("sha256").update(post?.body ?? "").digest("base64"));
    expect(JSON.parse(post?.body ?? "")).toEqual({
      tenantId: main.credential.tenancy_ocid,
      timeUsageStarted: "2026-09-14T00:00:00Z",
      timeUsageEnded: "2026-09-15T00:00:00Z",
      granularity: "DAILY",
      queryType: "COST",
    });
  });

  it("the fake refuses a replayed signature over a different body, and unsigned requests", async () => {
    register(main);
    expect((await run(main.credential)).outcome).toBe("ok");
    const post = fake.requests[1]!;
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "date", "x-date", "content-type", "content-length", "x-content-sha256"]) {
      const v = post.headers[name];
      if (typeof v === "string") headers[name] = v;
    }
    // Same length (content-length still matches): only the body hash gives it away.
    const tampered = post.body.replace('"DAILY"', '"TOTAL"');
    expect(tampered).not.toBe(post.body);
    const replay = await fetch(`${fake.url}/20200107/usage`, { method: "POST", headers, body: tampered });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual(OCI_NOT_AUTHENTICATED);
    expect(fake.verifications.at(-1)?.reason).toMatch(/x-content-sha256/);

    const unsigned = await fetch(`${fake.url}/20160918/users/${main.credential.user_ocid}`);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual(OCI_NOT_AUTHENTICATED);
  });

  it("is auth_failed when the user's uploaded public key is a different key (the fake checks the signature)", async () => {
    register(main, { publicKeyPem: other.publicKeyPem });
    const result = await run(main.credential);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/public key was uploaded to this user and the fingerprint matches/);
    expect(check(result, "authenticate").message).toMatch(/clock/);
    expect(check(result, "read_costs").outcome).toBe("skipped");
    expect(result.account).toBeNull();
    expect(fake.verifications[0]).toMatchObject({ ok: false, reason: "signature does not verify" });
  });

  it("is auth_failed when no such key is registered (unknown keyId)", async () => {
    const result = await run(main.credential);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/NotAuthenticated/);
    expect(fake.verifications[0]).toMatchObject({ ok: false, reason: "unknown keyId" });
  });

  it("accepts an encrypted PKCS#8 key with its passphrase", async () => {
    register(encrypted);
    expect(encrypted.credential.private_key).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    const result = await run(encrypted.credential);
    expect(result.outcome).toBe("ok");
    expect(fake.verifications.every((v) => v.ok)).toBe(true);
  });

  it("accepts an encrypted PKCS#1 key (openssl genrsa -aes…) with its passphrase", async () => {
    register(encryptedPkcs1);
    expect(encryptedPkcs1.credential.private_key).toMatch(/Proc-Type: 4,ENCRYPTED/);
    const result = await run(encryptedPkcs1.credential);
    expect(result.outcome).toBe("ok");
  });

  it("a key pasted with literal \\n sequences is normalized once, at the format check; the test signs with that form", async () => {
    register(main);
    const pasted = { ...main.credential, private_key: main.credential.private_key.replace(/\n/g, "\\n") };
    const canonical = buildCredentialSchema(resolveProvider("oci")!).parse(pasted) as unknown as OciCredential;
    expect(canonical.private_key).toBe(main.credential.private_key.trim() + "\n");
    const result = await run(canonical);
    expect(result.outcome).toBe("ok");
  });

  it("is invalid_format on the passphrase when it is wrong, before any request", async () => {
    register(encrypted);
    const err = await runExpectingError({ ...encrypted.credential, passphrase: "not the passphrase at all" });
    expect(err.code).toBe("invalid_format");
    expect(err.extra.fields).toEqual({ "credential.passphrase": "does not decrypt the private key" });
    expect(fake.requests).toHaveLength(0);
  });

  it("is invalid_format on the passphrase when an encrypted key comes without one", async () => {
    for (const k of [encrypted, encryptedPkcs1]) {
      const { passphrase: _omit, ...withoutPassphrase } = k.credential;
      const err = await runExpectingError(withoutPassphrase);
      expect(err.code).toBe("invalid_format");
      expect(err.extra.fields).toEqual({ "credential.passphrase": "is required: the private key is encrypted" });
    }
    expect(fake.requests).toHaveLength(0);
  });

  it("ignores a passphrase given for an unencrypted key", async () => {
    register(main);
    const result = await run({ ...main.credential, passphrase: "not needed for this key" });
    expect(result.outcome).toBe("ok");
  });

  it("is invalid_format on the private key for a 1024-bit RSA key", async () => {
    register(weak);
    const err = await runExpectingError(weak.credential);
    expect(err.code).toBe("invalid_format");
    expect(err.status).toBe(400);
    expect(err.extra.fields).toEqual({ "credential.private_key": "must be an RSA key of 2048 bits or more" });
    expect(fake.requests).toHaveLength(0);
  });

  it("is invalid_format on the private key for a non-RSA key", async () => {
    const err = await runExpectingError(ec.credential);
    expect(err.extra.fields).toEqual({ "credential.private_key": "must be an RSA key of 2048 bits or more" });
  });

  it("is invalid_format on the private key when the PEM is unreadable", async () => {
    const lines = main.credential.private_key.split("\n");
    const broken = [lines[0], ...lines.slice(3)].join("\n");
    const err = await runExpectingError({ ...main.credential, private_key: broken });
    expect(Object.keys(err.extra.fields ?? {})).toEqual(["credential.private_key"]);
  });

  it("is invalid_format on the fingerprint when it is not the key's", async () => {
    register(main);
    const err = await runExpectingError({ ...main.credential, fingerprint: other.fingerprint });
    expect(err.code).toBe("invalid_format");
    expect(err.extra.fields).toEqual({
      "credential.fingerprint": "does not match the private key: copy the fingerprint shown next to this key in the console",
    });
    expect(fake.requests).toHaveLength(0);
  });

  it("accepts the fingerprint in upper case", async () => {
    register(main);
    const result = await run({ ...main.credential, fingerprint: main.fingerprint.toUpperCase() });
    expect(result.outcome).toBe("ok");
  });

  it("is permission_denied naming the policy when the user may not read usage reports", async () => {
    register(main, { canReadUsage: false });
    const result = await run(main.credential);
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").outcome).toBe("ok");
    const costs = check(result, "read_costs");
    expect(costs.outcome).toBe("permission_denied");
    expect(costs.message).toContain(OCI_USAGE_POLICY);
    expect(costs.message).toContain("Allow group <group> to read usage-report in tenancy");
    expect(costs.message).toMatch(/NotAuthorizedOrNotFound/);
    expect(result.account).toEqual({ id: main.credential.tenancy_ocid, name: USER_NAME });
  });

  it("a usage refusal answered 400 RelatedResourceNotAuthorizedOrNotFound (the tenancy is in the body) is permission_denied naming the policy, not a provider error", async () => {
    register(main, { canReadUsage: false, usageDenial: "RelatedResourceNotAuthorizedOrNotFound" });
    const result = await run(main.credential);
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").outcome).toBe("ok");
    const costs = check(result, "read_costs");
    expect(costs.outcome).toBe("permission_denied");
    expect(costs.message).toContain(OCI_USAGE_POLICY);
    expect(costs.message).toMatch(/HTTP 400 \(RelatedResourceNotAuthorizedOrNotFound\)/);
  });

  it("a least-privilege user (no self-read: 404 NotAuthorizedOrNotFound after a signed request) is authenticated, name unknown, and goes on to usage", async () => {
    register(main, { canReadSelf: false });
    const result = await run(main.credential);
    expect(result.outcome).toBe("ok");
    expect(result.checks.map((c) => [c.name, c.outcome])).toEqual([
      ["authenticate", "ok"],
      ["read_costs", "ok"],
    ]);
    expect(result.account).toEqual({ id: main.credential.tenancy_ocid, name: null });
    expect(fake.verifications.map((v) => [v.path.split("/")[2], v.ok])).toEqual([
      ["users", true],
      ["usage", true],
    ]);
  });

  it("a least-privilege user without the usage policy is permission_denied on read_costs (not not_found)", async () => {
    register(main, { canReadSelf: false, canReadUsage: false });
    const result = await run(main.credential);
    expect(result.outcome).toBe("permission_denied");
    expect(check(result, "authenticate").outcome).toBe("ok");
    expect(check(result, "read_costs").message).toContain(OCI_USAGE_POLICY);
  });

  it("a key OCI does not know is 401 before any authorization: auth_failed, never ok", async () => {
    register(main, { canReadSelf: false, publicKeyPem: other.publicKeyPem });
    const result = await run(main.credential);
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("is auth_failed with a clock hint when the clocks differ by 10 minutes", async () => {
    register(main);
    fake.setClockOffset(10 * MINUTE);
    const result = await run(main.credential);
    expect(result.outcome).toBe("auth_failed");
    const message = check(result, "authenticate").message ?? "";
    expect(message).toMatch(/clock differs from OCI's by about 10 minutes/);
    expect(fake.verifications[0]).toMatchObject({ ok: false });
    expect(fake.verifications[0]?.reason).toMatch(/more than 5 minutes off/);
  });

  it("is auth_failed when this server's clock is 10 minutes behind", async () => {
    register(main);
    const result = await run(main.credential, { now: () => Date.now() - 10 * MINUTE });
    expect(result.outcome).toBe("auth_failed");
    expect(check(result, "authenticate").message).toMatch(/about 10 minutes/);
  });

  it("accepts a clock 4 minutes off (inside OCI's 5 minutes)", async () => {
    register(main);
    fake.setClockOffset(4 * MINUTE);
    expect((await run(main.credential)).outcome).toBe("ok");
  });

  it("is rate_limited with Retry-After on 429 TooManyRequests", async () => {
    register(main);
    fake.setMode("rate_limited");
    const result = await run(main.credential);
    expect(result.outcome).toBe("rate_limited");
    expect(result.retry_after_s).toBe(7);
    expect(check(result, "authenticate").message).toMatch(/TooManyRequests/);
  });

  it("is provider_error on 503", async () => {
    register(main);
    fake.setMode("unavailable");
    const result = await run(main.credential);
    expect(result.outcome).toBe("provider_error");
    expect(check(result, "authenticate").message).toMatch(/503/);
  });

  it("is timeout when OCI does not answer", async () => {
    register(main);
    fake.setMode("hang");
    const result = await run(main.credential, { timeoutMs: 300 });
    expect(result.outcome).toBe("timeout");
    expect(check(result, "read_costs").outcome).toBe("skipped");
  });

  it("is network when nothing listens", async () => {
    const url = await closedPortUrl();
    const result = await run(main.credential, {}, url);
    expect(result.outcome).toBe("network");
    expect(check(result, "authenticate").message).toMatch(/connection refused/);
  });

  it("uses the region's OCI hosts when no endpoint is resolved", async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ENOTFOUND" } });
    };
    const credential = { ...main.credential, region: "eu-frankfurt-1" };
    const result = await testOciApiKey({ ...ctxFor(fake.url, credential, { fetch: fakeFetch }), endpoints: {} });
    expect(result.outcome).toBe("network");
    expect(seen).toEqual([`https://identity.eu-frankfurt-1.oci.oraclecloud.com/20160918/users/${main.credential.user_ocid}`]);
  });

  it("builds hosts from the region's realm domain (oci-common's realm table), also through the registry template", async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ENOTFOUND" } });
    };
    const gov = { ...main.credential, region: "us-langley-1", tenancy_ocid: main.credential.tenancy_ocid.replace(".oc1.", ".oc2.") };
    await testOciApiKey({ ...ctxFor(fake.url, gov, { fetch: fakeFetch }), endpoints: {} });
    expect(seen).toEqual([`https://identity.us-langley-1.oci.oraclegovcloud.com/20160918/users/${main.credential.user_ocid}`]);

    expect(ociRealmDomain("us-ashburn-1", "ocid1.tenancy.oc1..aaaa")).toBe("oraclecloud.com");
    expect(ociRealmDomain("uk-gov-london-1", "ocid1.tenancy.oc4..aaaa")).toBe("oraclegovcloud.uk");
    expect(ociRealmDomain("eu-frankfurt-2", "ocid1.tenancy.oc19..aaaa")).toBe("oraclecloud.eu");
    // A region oci-common does not list yet: the tenancy's realm decides.
    expect(ociRealmDomain("xx-newplace-1", "ocid1.tenancy.oc19..aaaa")).toBe("oraclecloud.eu");
    // A region of another realm than the tenancy's: a format error naming the region.
    expect(() => ociRealmDomain("us-ashburn-1", "ocid1.tenancy.oc2..aaaa")).toThrow(AppError);

    const oci = resolveProvider("oci")!;
    const eu = resolveEndpoints(oci, { region: "eu-madrid-2", tenancy_ocid: "ocid1.tenancy.oc19..aaaa" }, {});
    expect(eu).toEqual({ identity_endpoint: "https://identity.eu-madrid-2.oci.oraclecloud.eu", usage_endpoint: "https://usageapi.eu-madrid-2.oci.oraclecloud.eu" });
    const err = (() => {
      try {
        resolveEndpoints(oci, { region: "us-ashburn-1", tenancy_ocid: "ocid1.tenancy.oc19..aaaa" }, {});
      } catch (e) {
        return e as AppError;
      }
      return null;
    })();
    expect(err?.extra.fields).toHaveProperty(["credential.region"]);
  });

  it("never puts the private key, a PEM line, the passphrase or a signature in any message", async () => {
    register(encrypted, { canReadUsage: false });
    const denied = await run(encrypted.credential);
    fake.setClockOffset(10 * MINUTE);
    const skewed = await run(encrypted.credential);
    fake.setClockOffset(0);
    fake.setMode("rate_limited");
    const limited = await run(encrypted.credential);
    const secrets = [...secretParts(encrypted.credential), ...signaturesSeen(fake)];
    expect(signaturesSeen(fake).length).toBeGreaterThan(0);
    for (const r of [denied, skewed, limited]) {
      expect(r.outcome).not.toBe("ok");
      expectNoSecrets(JSON.stringify(r), secrets);
    }
    const wrong = await runExpectingError({ ...encrypted.credential, passphrase: `${PASSPHRASE}x` });
    expectNoSecrets(appErrorText(wrong), [...secrets, `${PASSPHRASE}x`]);
    // Sanity: the helper would catch a leak.
    expect(() => expectNoSecrets(`x${secretParts(encrypted.credential)[1]}x`, secrets)).toThrow();
    expect(fakeOcid("user", "main")).toBe(main.credential.user_ocid);
  });

  it("pacing (docs/security.md, \"Pacing\"): on a budget of one, the second test is rate_limited and nothing is sent", async () => {
    register(main);
    const { provider, opts } = tinyBudget("oci", { OCI_IDENTITY_ENDPOINT: fake.url, OCI_USAGE_ENDPOINT: fake.url });
    expect((await runConnectionTest(provider, { ...main.credential }, opts)).outcome).toBe("ok");
    const sent = fake.requests.length;
    expect(sent).toBeGreaterThan(0);
    const two = await runConnectionTest(provider, { ...main.credential }, opts);
    expect(two.outcome).toBe("rate_limited");
    expect(two.retry_after_s).toBeGreaterThan(0);
    expect(fake.requests.length).toBe(sent);
  });
});
