import dns from "node:dns";
import net from "node:net";
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startKmsFake, type KmsFake, type KmsFault } from "../../tests/fakes/kms";
import { CipherError, type AadContext } from "./cipher";
import { CONTRACT_CTX, CONTRACT_SECRET, describeCipherContract, expectCipherError, fakeServiceAccountJson } from "./cipher-contract";
import { crc32c, readCrc32c } from "./crc32c";
import { GcpKmsCipher, kmsClientOptionsForEndpoint, parseKmsEndpoint, type GcpKmsCipherOptions } from "./gcp";
import { createCipher } from "./index";

const ctx: AadContext = CONTRACT_CTX;
const SECRET = CONTRACT_SECRET;
const KEY = "projects/acme-finops/locations/europe-west1/keyRings/credentials/cryptoKeys/org-integrations";

// ---------------------------------------------------------------------------------------------
// Network guard: every TCP connect (and DNS lookup) in this worker is recorded; anything that is
// not loopback is refused before a packet leaves. The client must never need to go further than
// the fake (no OAuth token endpoint, no GCE metadata server at 169.254.169.254).
// ---------------------------------------------------------------------------------------------

const outbound: string[] = [];
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const originalConnect = net.Socket.prototype.connect;
const originalLookup = dns.lookup;

/** "host:port" of a Socket#connect call, or null for a unix socket / pipe. */
function connectTarget(args: unknown[]): string | null {
  // http agents pass the normalized [options, callback] array as the first argument.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === "object" && first !== null) {
    const o = first as { host?: string; hostname?: string; port?: number | string; path?: string };
    if (o.path && !o.host && !o.hostname) return null;
    return `${o.host ?? o.hostname ?? "localhost"}:${String(o.port ?? "")}`;
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    return `${typeof args[1] === "string" ? args[1] : "localhost"}:${String(first)}`;
  }
  return null;
}

function hostOf(target: string): string {
  return target.slice(0, target.lastIndexOf(":")).replace(/^\[|\]$/g, "");
}

beforeAll(() => {
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    if (target !== null && !LOOPBACK.has(hostOf(target))) {
      outbound.push(`connect ${target}`);
      process.nextTick(() => this.destroy(new Error(`network guard: refused ${target}`)));
      return this;
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  dns.lookup = function guardedLookup(hostname: string, ...rest: unknown[]) {
    if (!LOOPBACK.has(hostname)) {
      outbound.push(`dns ${hostname}`);
      const cb = rest.at(-1) as (err: NodeJS.ErrnoException) => void;
      const err: NodeJS.ErrnoException = Object.assign(new Error(`network guard: refused lookup ${hostname}`), { code: "ENOTFOUND" });
      process.nextTick(() => cb(err));
      return undefined;
    }
    return (originalLookup as (...a: unknown[]) => void).call(dns, hostname, ...rest);
  } as typeof dns.lookup;
});

afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
  dns.lookup = originalLookup;
  // Checked once more at the very end: nothing in this file reached past loopback.
  expect(outbound).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

let fake: KmsFake;
const ciphers: GcpKmsCipher[] = [];

beforeAll(async () => {
  fake = await startKmsFake();
  fake.createKey(KEY);
});

afterAll(async () => {
  await fake.close();
});

afterEach(async () => {
  fake.clearFaults();
  fake.clearCalls();
  for (const c of ciphers.splice(0)) await c.close();
});

function cipher(opts: Partial<GcpKmsCipherOptions> = {}): GcpKmsCipher {
  const c = new GcpKmsCipher({ keyName: KEY, endpoint: fake.endpoint, retryBaseMs: 1, ...opts });
  ciphers.push(c);
  return c;
}

let keySeq = 0;
/** A fresh CryptoKey on the shared fake (tests that rotate or disable must not disturb others). */
function freshKey(): string {
  const name = `projects/acme-finops/locations/europe-west1/keyRings/credentials/cryptoKeys/k${++keySeq}-${Date.now()}`;
  fake.createKey(name);
  return name;
}

const encryptCalls = () => fake.callsTo("Encrypt").length;
const decryptCalls = () => fake.callsTo("Decrypt").length;

// ---------------------------------------------------------------------------------------------

describe("crc32c", () => {
  it("matches the CRC32C check value (not CRC-32/IEEE)", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.from("123456789"))).not.toBe(0xcbf43926);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBe(0xffffffff); // unsigned, never negative
  });

  it("reads Int64 wrappers that arrive as strings (gRPC), numbers (JSON) or not at all", () => {
    expect(readCrc32c({ value: "3808858755" })).toBe(0xe3069283);
    expect(readCrc32c({ value: 3808858755 })).toBe(0xe3069283);
    expect(readCrc32c({ value: "0" })).toBe(0);
    expect(readCrc32c(null)).toBeNull();
    expect(readCrc32c(undefined)).toBeNull();
    expect(readCrc32c({})).toBeNull();
    expect(readCrc32c({ value: "-1" })).toBeNull();
    expect(readCrc32c({ value: "4294967296" })).toBeNull();
    expect(readCrc32c({ value: "12abc" })).toBeNull();
  });
});

describeCipherContract("Cloud KMS (gRPC fake)", async () => {
  const keyName = freshKey();
  const c = new GcpKmsCipher({ keyName, endpoint: fake.endpoint, retryBaseMs: 1 });
  return {
    cipher: c,
    rotate: async () => fake.rotate(keyName),
    retire: async (version) => fake.disableVersion(version),
    cleanup: () => c.close(),
  };
});

describe("GcpKmsCipher: offline wiring", () => {
  it("talks gRPC to the fake with insecure channel credentials and no Google credentials", async () => {
    const opts = await kmsClientOptionsForEndpoint(fake.endpoint);
    expect(opts).toMatchObject({ apiEndpoint: "127.0.0.1", port: fake.port, universeDomain: "googleapis.com", fallback: false });
    const client = new KeyManagementServiceClient(opts);
    const getClient = vi.spyOn(client.auth, "getClient");
    const getAccessToken = vi.spyOn(client.auth, "getAccessToken");
    try {
      const c = new GcpKmsCipher({ keyName: KEY, client, retryBaseMs: 1 });
      const enc = await c.encrypt(Buffer.from(SECRET), ctx);
      expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
      await c.ping();
      // ADC discovery (which is what could probe the metadata server) never ran.
      expect(getClient).not.toHaveBeenCalled();
      expect(getAccessToken).not.toHaveBeenCalled();
    } finally {
      await client.close();
    }
    expect(fake.calls.map((x) => x.method)).toEqual(["Encrypt", "Decrypt", "GetCryptoKey"]);
    expect(outbound).toEqual([]);
  });

  it("the cipher built from an endpoint makes no outbound connection either", async () => {
    const c = cipher();
    await c.ping();
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    await c.decrypt(enc.ciphertext, ctx);
    expect(outbound).toEqual([]);
  });

  it("the fake records method and resource names only, never plaintext, ciphertext or AAD", async () => {
    const c = cipher();
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    await c.decrypt(enc.ciphertext, ctx);
    const dump = JSON.stringify(fake.calls);
    expect(dump).not.toContain(SECRET);
    expect(dump).not.toContain(ctx.credentialId);
    expect(dump).not.toContain(enc.ciphertext.toString("base64").slice(0, 16));
    expect(fake.calls.map((x) => [x.method, x.name])).toEqual([
      ["Encrypt", KEY],
      ["Decrypt", KEY],
    ]);
  });

  it("parses GCP_KMS_ENDPOINT as host:port and refuses anything else", () => {
    expect(parseKmsEndpoint("127.0.0.1:8443")).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(parseKmsEndpoint("kms-emulator:9010")).toEqual({ host: "kms-emulator", port: 9010 });
    expect(parseKmsEndpoint("[::1]:9010")).toEqual({ host: "[::1]", port: 9010 });
    for (const bad of ["http://127.0.0.1:8443", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "", "host:port"]) {
      expect(() => parseKmsEndpoint(bad), bad).toThrow(CipherError);
    }
    expect(() => new GcpKmsCipher({ keyName: KEY, endpoint: "https://kms:443" })).toThrow(/host:port/);
  });

  it("refuses a key name that is not a CryptoKey (misconfigured)", () => {
    for (const bad of ["", "org-integrations", `${KEY}/cryptoKeyVersions/1`, "projects/p/locations/l/keyRings/r"]) {
      let err: unknown;
      try {
        new GcpKmsCipher({ keyName: bad, endpoint: fake.endpoint });
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(CipherError);
      expect((err as CipherError).code).toBe("misconfigured");
    }
  });

  it("createCipher builds the gcp backend from GCP_KMS_KEY / GCP_KMS_ENDPOINT, and requires the key", async () => {
    expect(() => createCipher({ backend: "gcp", dataDir: "/nonexistent" })).toThrow(/GCP_KMS_KEY is required/);
    try {
      createCipher({ backend: "gcp", dataDir: "/nonexistent" });
    } catch (e) {
      expect((e as CipherError).code).toBe("misconfigured");
    }
    const c = createCipher({ backend: "gcp", dataDir: "/nonexistent", gcpKeyName: KEY, gcpEndpoint: fake.endpoint });
    expect(c).toBeInstanceOf(GcpKmsCipher);
    expect(c.backend).toBe("gcp");
    ciphers.push(c as GcpKmsCipher);
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect(enc.keyRef).toBe(KEY);
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
  });
});

describe("GcpKmsCipher: results", () => {
  it("records the CryptoKey as keyRef and the CryptoKeyVersion used as keyVersion", async () => {
    const c = cipher();
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect(enc.keyRef).toBe(KEY);
    expect(enc.keyVersion).toBe(fake.primaryVersion(KEY));
    expect(enc.keyVersion).toMatch(new RegExp(`^${KEY}/cryptoKeyVersions/\\d+$`));
    expect(await c.primaryKeyVersion()).toBe(enc.keyVersion);
    const dec = await c.decrypt(enc.ciphertext, ctx);
    // DecryptResponse does not name the version; the CryptoKey stands in for it.
    expect(dec.keyVersion).toBe(KEY);
    expect(dec.usedPrimary).toBe(true);
  });

  it("round-trips a ~2.3 KB service-account JSON and a 60 KiB payload", async () => {
    const c = cipher();
    const sa = fakeServiceAccountJson();
    const enc = await c.encrypt(Buffer.from(sa), ctx);
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(sa);
    const big = Buffer.alloc(60 * 1024, 7);
    const encBig = await c.encrypt(big, ctx);
    expect((await c.decrypt(encBig.ciphertext, ctx)).plaintext.equals(big)).toBe(true);
  });

  it("refuses more than 64 KiB locally (misconfigured), without calling KMS", async () => {
    const c = cipher();
    await expectCipherError(c.encrypt(Buffer.alloc(64 * 1024 + 1), ctx), "misconfigured");
    expect(encryptCalls()).toBe(0);
  });
});

describe("GcpKmsCipher: key versions", () => {
  it("rotate → v2 primary; v1 ciphertext decrypts with usedPrimary=false; disabling v1 fails it with a clear message", async () => {
    const keyName = freshKey();
    const c = cipher({ keyName });
    const v1 = fake.primaryVersion(keyName);
    const old = await c.encrypt(Buffer.from("old-secret"), ctx);
    expect(old.keyVersion).toBe(v1);

    const v2 = fake.rotate(keyName);
    expect(v2).toBe(`${keyName}/cryptoKeyVersions/2`);
    expect(await c.primaryKeyVersion()).toBe(v2);
    const oldDec = await c.decrypt(old.ciphertext, ctx);
    expect(oldDec.plaintext.toString()).toBe("old-secret");
    expect(oldDec.usedPrimary).toBe(false);
    const fresh = await c.encrypt(Buffer.from("new-secret"), ctx);
    expect(fresh.keyVersion).toBe(v2);
    expect((await c.decrypt(fresh.ciphertext, ctx)).usedPrimary).toBe(true);

    fake.disableVersion(v1);
    fake.clearCalls();
    const err = await expectCipherError(c.decrypt(old.ciphertext, ctx), "decrypt_failed", "old-secret");
    expect(err.message).toMatch(/key version .*cryptoKeyVersions\/1 is disabled/);
    expect(decryptCalls()).toBe(1); // not retried
    expect((await c.decrypt(fresh.ciphertext, ctx)).plaintext.toString()).toBe("new-secret");

    fake.enableVersion(v1);
    expect((await c.decrypt(old.ciphertext, ctx)).plaintext.toString()).toBe("old-secret");
    fake.destroyVersion(v1);
    await expectCipherError(c.decrypt(old.ciphertext, ctx), "decrypt_failed", "old-secret");
  });

  it("a disabled primary version: encrypt and ping fail misconfigured, without retries", async () => {
    const keyName = freshKey();
    const c = cipher({ keyName });
    fake.disableVersion(fake.primaryVersion(keyName));
    await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured", SECRET);
    expect(encryptCalls()).toBe(1);
    const err = await expectCipherError(c.ping(), "misconfigured");
    expect(err.message).toMatch(/DISABLED, not ENABLED/);
  });

  it("a ciphertext from another CryptoKey does not decrypt (decrypt_failed)", async () => {
    const other = freshKey();
    const a = cipher({ keyName: other });
    const enc = await a.encrypt(Buffer.from(SECRET), ctx);
    await expectCipherError(cipher().decrypt(enc.ciphertext, ctx), "decrypt_failed", SECRET);
  });

  it("an unknown key is misconfigured for every operation, without retries", async () => {
    const c = cipher({ keyName: `${KEY}-missing` });
    await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured", SECRET);
    await expectCipherError(c.decrypt(Buffer.from("x"), ctx), "misconfigured");
    await expectCipherError(c.primaryKeyVersion(), "misconfigured");
    const err = await expectCipherError(c.ping(), "misconfigured");
    expect(err.message).toMatch(/NOT_FOUND/);
    expect(fake.calls.map((x) => x.method)).toEqual(["Encrypt", "Decrypt", "GetCryptoKey", "GetCryptoKey"]);
  });

  it("PERMISSION_DENIED is misconfigured, without retries", async () => {
    const c = cipher();
    fake.inject({ kind: "status", code: 7, message: "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied.", times: Infinity });
    const err = await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured", SECRET);
    expect(err.message).toMatch(/PERMISSION_DENIED/);
    expect(encryptCalls()).toBe(1);
  });
});

describe("GcpKmsCipher: integrity checks and bounded retries", () => {
  interface Case {
    fault: KmsFault["kind"];
    op: "encrypt" | "decrypt";
  }
  const integrityCases: Case[] = [
    { fault: "flip-ciphertext", op: "encrypt" },
    { fault: "wrong-ciphertext-crc", op: "encrypt" },
    { fault: "drop-verified-plaintext-crc", op: "encrypt" },
    { fault: "drop-verified-aad-crc", op: "encrypt" },
    { fault: "flip-plaintext", op: "decrypt" },
    { fault: "wrong-plaintext-crc", op: "decrypt" },
  ];

  async function run(c: GcpKmsCipher, op: "encrypt" | "decrypt", blob?: Buffer) {
    if (op === "encrypt") {
      const enc = await c.encrypt(Buffer.from(SECRET), ctx);
      // Whatever was accepted must be the real ciphertext.
      expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
      return enc;
    }
    return c.decrypt(blob as Buffer, ctx);
  }

  it.each(integrityCases)("$fault once: the response is discarded, the retry succeeds (2 calls)", async ({ fault, op }) => {
    const c = cipher();
    const blob = (await c.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    fake.clearCalls();
    fake.inject({ kind: fault });
    const res = await run(c, op, blob);
    if (op === "decrypt") expect((res as { plaintext: Buffer }).plaintext.toString()).toBe(SECRET);
    // Exactly one discarded response, then the good one (encrypt cases then decrypt once to check it).
    const expected = op === "encrypt" ? [["Encrypt", fault], ["Encrypt", undefined], ["Decrypt", undefined]] : [["Decrypt", fault], ["Decrypt", undefined]];
    expect(fake.calls.map((x) => [x.method, x.fault])).toEqual(expected);
  });

  it.each(integrityCases)("$fault always: fails closed with unavailable after exactly maxAttempts calls", async ({ fault, op }) => {
    const c = cipher();
    const blob = (await c.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    fake.clearCalls();
    fake.inject({ kind: fault, times: Infinity });
    const err = await expectCipherError(run(c, op, blob), "unavailable", SECRET);
    expect(err.message).toMatch(/integrity/);
    expect(err.message).toMatch(/after 3 attempts/);
    expect(op === "encrypt" ? encryptCalls() : decryptCalls()).toBe(3);
    expect(fake.calls.length).toBe(3);
  });

  it("maxAttempts bounds the calls (5 → 5 calls, 1 → 1 call)", async () => {
    fake.inject({ kind: "flip-ciphertext", times: Infinity });
    await expectCipherError(cipher({ maxAttempts: 5 }).encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    expect(encryptCalls()).toBe(5);
    fake.clearCalls();
    await expectCipherError(cipher({ maxAttempts: 1 }).encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    expect(encryptCalls()).toBe(1);
  });

  it("a wrong EncryptResponse.name is refused (misconfigured), not retried, ciphertext discarded", async () => {
    const c = cipher();
    fake.inject({ kind: "wrong-name", times: Infinity });
    const err = await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured", SECRET);
    expect(err.message).toMatch(/not a version of/);
    expect(encryptCalls()).toBe(1);
  });

  it("a KMS request-checksum rejection (INVALID_ARGUMENT … checksum) is retried as corruption in transit", async () => {
    const c = cipher();
    fake.inject({ kind: "status", code: 3, message: "The checksum in field plaintext_crc32c did not match the data in field plaintext." });
    await run(c, "encrypt");
    expect(encryptCalls()).toBe(2);
    fake.clearCalls();
    fake.inject({ kind: "status", code: 3, message: "The checksum in field ciphertext_crc32c did not match the data in field ciphertext.", times: Infinity });
    const blob = Buffer.from("AAAA");
    const err = await expectCipherError(c.decrypt(blob, ctx), "unavailable");
    expect(err.message).toMatch(/integrity/);
    expect(decryptCalls()).toBe(3);
  });
});

describe("GcpKmsCipher: transient gRPC failures", () => {
  const transient: { kind: "unavailable" | "resource-exhausted"; label: string }[] = [
    { kind: "unavailable", label: "UNAVAILABLE" },
    { kind: "resource-exhausted", label: "RESOURCE_EXHAUSTED" },
  ];

  it.each(transient)("$label once on encrypt and on decrypt: retried, succeeds (2 calls each)", async ({ kind }) => {
    const c = cipher();
    fake.inject({ kind, method: "Encrypt" });
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect(encryptCalls()).toBe(2);
    fake.inject({ kind, method: "Decrypt" });
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
    expect(decryptCalls()).toBe(2);
  });

  it.each(transient)("$label always: unavailable after exactly maxAttempts calls", async ({ kind, label }) => {
    const c = cipher();
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    fake.clearCalls();
    fake.inject({ kind, times: Infinity });
    const e1 = await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    expect(e1.message).toContain(label);
    expect(encryptCalls()).toBe(3);
    await expectCipherError(c.decrypt(enc.ciphertext, ctx), "unavailable", SECRET);
    expect(decryptCalls()).toBe(3);
    await expectCipherError(c.primaryKeyVersion(), "unavailable");
    expect(fake.callsTo("GetCryptoKey").length).toBe(3);
  });

  it("google-gax's own retries are off: with maxAttempts 1, UNAVAILABLE means exactly 1 call", async () => {
    fake.inject({ kind: "unavailable", times: Infinity });
    await expectCipherError(cipher({ maxAttempts: 1 }).encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    expect(encryptCalls()).toBe(1);
  });

  it("a hung call hits the per-call deadline and is retried; always hanging → unavailable (DEADLINE_EXCEEDED)", async () => {
    const c = cipher({ callTimeoutMs: 150 });
    fake.inject({ kind: "hang", method: "Encrypt" });
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect(encryptCalls()).toBe(2);
    fake.clearCalls();
    fake.inject({ kind: "hang", times: Infinity });
    const started = Date.now();
    const err = await expectCipherError(c.decrypt(enc.ciphertext, ctx), "unavailable", SECRET);
    expect(err.message).toContain("DEADLINE_EXCEEDED");
    expect(decryptCalls()).toBe(3);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("other statuses (INTERNAL) fail unavailable without retries", async () => {
    fake.inject({ kind: "status", code: 13, message: "Internal error.", times: Infinity });
    await expectCipherError(cipher().encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    expect(encryptCalls()).toBe(1);
  });
});

describe("GcpKmsCipher: ping and the service going away", () => {
  it("ping is one GetCryptoKey; it fails (unavailable) when the service is down, and is not retried", async () => {
    const c = cipher();
    await c.ping();
    expect(fake.calls.map((x) => x.method)).toEqual(["GetCryptoKey"]);
    fake.inject({ kind: "unavailable", times: Infinity });
    await expectCipherError(c.ping(), "unavailable");
    expect(fake.callsTo("GetCryptoKey").length).toBe(2);
  });

  it("ping and encrypt fail with unavailable once the fake is closed", async () => {
    const own = await startKmsFake();
    own.createKey(KEY);
    const c = new GcpKmsCipher({ keyName: KEY, endpoint: own.endpoint, retryBaseMs: 1, callTimeoutMs: 2_000 });
    try {
      await c.ping();
      await own.close();
      await expectCipherError(c.ping(), "unavailable");
      await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "unavailable", SECRET);
    } finally {
      await c.close();
      await own.close();
    }
  });
});

describe("KMS fake fidelity (raw client)", () => {
  let client: KeyManagementServiceClient;
  beforeAll(async () => {
    client = new KeyManagementServiceClient(await kmsClientOptionsForEndpoint(fake.endpoint));
  });
  afterAll(async () => {
    await client.close();
  });
  const noRetry = { retry: null, timeout: 5_000 };

  async function grpcCodeOf(p: Promise<unknown>): Promise<number | undefined> {
    try {
      await p;
      return undefined;
    } catch (e) {
      return (e as { code?: number }).code;
    }
  }

  it("verifies request checksums: a wrong one is INVALID_ARGUMENT", async () => {
    const pt = Buffer.from(SECRET);
    const code = await grpcCodeOf(
      client.encrypt({ name: KEY, plaintext: pt, plaintextCrc32c: { value: (crc32c(pt) + 1) >>> 0 } }, noRetry),
    );
    expect(code).toBe(3);
  });

  it("sets verified* only for checksums the request carried; int64 checksums arrive as strings", async () => {
    const pt = Buffer.from(SECRET);
    const [bare] = await client.encrypt({ name: KEY, plaintext: pt }, noRetry);
    expect(bare.verifiedPlaintextCrc32c).toBe(false);
    expect(bare.verifiedAdditionalAuthenticatedDataCrc32c).toBe(false);
    expect(typeof bare.ciphertextCrc32c?.value).toBe("string");
    expect(Number(bare.ciphertextCrc32c?.value)).toBe(crc32c(bare.ciphertext as Uint8Array));
    expect(bare.name).toBe(fake.primaryVersion(KEY));
  });

  it("answers UNIMPLEMENTED for methods it does not serve (and records them)", async () => {
    const code = await grpcCodeOf(client.getKeyRing({ name: "projects/p/locations/l/keyRings/r" }, noRetry));
    expect(code).toBe(12);
    expect(fake.calls.at(-1)).toMatchObject({ method: "GetKeyRing", name: "projects/p/locations/l/keyRings/r" });
  });
});

describe("GcpKmsCipher: error hygiene", () => {
  it("never exposes plaintext in errors across failure paths", async () => {
    const c = cipher();
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    fake.inject({ kind: "flip-plaintext", times: Infinity });
    const e1 = await expectCipherError(c.decrypt(enc.ciphertext, ctx), "unavailable", SECRET);
    expect(e1.cause).toBeUndefined();
    fake.clearFaults();
    const other: AadContext = { ...ctx, credentialId: "cred_02" };
    const e2 = await expectCipherError(c.decrypt(enc.ciphertext, other), "decrypt_failed", SECRET);
    expect(e2.message).not.toMatch(/ciphertext is invalid/); // our fixed text, not the server's
  });

  it("the cipher object does not serialize its client", () => {
    const c = cipher();
    expect(JSON.stringify(c)).toBe(JSON.stringify({ backend: "gcp", keyName: KEY }));
  });
});

// Last on purpose: gcp-metadata caches the outcome of its probe for the whole process, so running
// this earlier could hide a probe made by a later test from the guard.
describe("network guard self-test", () => {
  it("the network guard is on the connect path: it sees (and blocks) the metadata-server probe of a client without universeDomain", async () => {
    // The counter-example: insecure channel credentials alone still let google-gax run ADC
    // discovery (auth.getUniverseDomain → getClient), which probes the GCE metadata server.
    const client = new KeyManagementServiceClient({
      apiEndpoint: "127.0.0.1",
      port: fake.port,
      sslCreds: (await kmsClientOptionsForEndpoint(fake.endpoint)).sslCreds,
      fallback: false,
    });
    const emitWarning = process.emitWarning;
    process.emitWarning = (() => undefined) as typeof process.emitWarning; // gcp-metadata's MetadataLookupWarning
    try {
      await client.getCryptoKey({ name: KEY }, { retry: null, timeout: 5_000 }).catch(() => undefined);
    } finally {
      process.emitWarning = emitWarning;
      await client.close();
    }
    const seen = outbound.splice(0);
    expect(seen.some((s) => s.includes("169.254.169.254") || s.includes("metadata.google.internal"))).toBe(true);
  });
});
