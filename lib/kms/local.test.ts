import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CipherError, type AadContext } from "./cipher";
import { createCipher } from "./index";
import {
  addKeyVersion,
  gcmOpen,
  gcmSeal,
  KEYRING_FILE,
  LOCAL_KEY_REF,
  LocalKeyRingCipher,
  retireKeyVersion,
  writePrivateFile,
} from "./local";
import { waitFor } from "@/tests/support/wait";

const ctx: AadContext = { org: "org_acme", provider: "gcp", credentialId: "cred_01" };
const SECRET = "sk-live-4f9a1c2e8b7d6a5f3e2d1c0b";

const tmpRoots: string[] = [];
/** A fresh temp root per test; the data dir inside it does not exist yet. */
function freshDataDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kms-local-"));
  tmpRoots.push(root);
  return path.join(root, "data");
}
afterEach(() => {
  for (const r of tmpRoots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const keyringPath = (dir: string) => path.join(dir, KEYRING_FILE);

/** Assert the promise rejects with a CipherError of `code` whose text does not leak `secret`. */
async function expectCipherError(p: Promise<unknown>, code: string, secret?: string): Promise<CipherError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "expected a rejection, got a result").toBeInstanceOf(CipherError);
  const ce = err as CipherError;
  expect(ce.code).toBe(code);
  if (secret !== undefined) {
    const dump = `${ce.message}\n${ce.stack ?? ""}\n${JSON.stringify(ce)}\n${String(ce.cause ?? "")}`;
    expect(dump).not.toContain(secret);
  }
  return ce;
}

/** A service-account-shaped JSON of about 2.3 KB (fake key material). */
function fakeServiceAccountJson(): string {
  const pem = randomBytes(1210).toString("base64").replace(/(.{64})/g, "$1\n");
  return JSON.stringify({
    type: "service_account",
    project_id: "acme-finops-prod",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: `-----BEGIN PRIVATE KEY-----\n${pem}\n-----END PRIVATE KEY-----\n`,
    client_email: "finops-reader@acme-finops-prod.iam.gserviceaccount.com",
    client_id: "104857392018374652910",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url:
      "https://www.googleapis.com/robot/v1/metadata/x509/finops-reader%40acme-finops-prod.iam.gserviceaccount.com",
    universe_domain: "googleapis.com",
  });
}

function writeKeyRing(dir: string, ring: unknown): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyringPath(dir), typeof ring === "string" ? ring : JSON.stringify(ring), { mode: 0o600 });
}

describe("LocalKeyRingCipher: round trip and blob format", () => {
  it("round-trips a short string", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect(enc.keyRef).toBe(LOCAL_KEY_REF);
    expect(enc.keyVersion).toBe("k1");
    expect(enc.ciphertext.includes(Buffer.from(SECRET))).toBe(false);
    const dec = await c.decrypt(enc.ciphertext, ctx);
    expect(dec.plaintext.toString()).toBe(SECRET);
    expect(dec.keyVersion).toBe("k1");
    expect(dec.usedPrimary).toBe(true);
  });

  it("round-trips a ~2.3 KB service-account JSON", async () => {
    const sa = fakeServiceAccountJson();
    expect(sa.length).toBeGreaterThan(2200);
    expect(sa.length).toBeLessThan(2500);
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const enc = await c.encrypt(Buffer.from(sa), ctx);
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(sa);
  });

  it("round-trips a 64 KiB binary payload and an empty one", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const big = randomBytes(64 * 1024);
    const enc = await c.encrypt(big, ctx);
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.equals(big)).toBe(true);
    const empty = await c.encrypt(Buffer.alloc(0), ctx);
    expect((await c.decrypt(empty.ciphertext, ctx)).plaintext.length).toBe(0);
  });

  it("lays the blob out as version | L | keyId | nonce(12) | ciphertext | tag(16)", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const pt = Buffer.from(SECRET);
    const { ciphertext: blob } = await c.encrypt(pt, ctx);
    expect(blob[0]).toBe(0x01);
    expect(blob[1]).toBe(2);
    expect(blob.subarray(2, 4).toString("ascii")).toBe("k1");
    expect(blob.length).toBe(2 + 2 + 12 + pt.length + 16);
  });

  it("uses a fresh random nonce: two encryptions of the same plaintext differ", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const a = (await c.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    const b = (await c.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(4, 16).equals(b.subarray(4, 16))).toBe(false); // the nonces
    expect((await c.decrypt(a, ctx)).plaintext.toString()).toBe(SECRET);
    expect((await c.decrypt(b, ctx)).plaintext.toString()).toBe(SECRET);
  });

  it("rejects a non-Buffer plaintext", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    await expect(c.encrypt("text" as unknown as Buffer, ctx)).rejects.toThrow(TypeError);
  });
});

describe("LocalKeyRingCipher: tampering, AAD and truncation", () => {
  it("rejects every single-byte flip (xor 0x01 and 0x80) anywhere in the blob", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const accepted: string[] = [];
    const wrongError: string[] = [];
    for (let i = 0; i < blob.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = Buffer.from(blob);
        tampered[i] = (tampered[i] as number) ^ mask;
        try {
          const res = await c.decrypt(tampered, ctx);
          accepted.push(`byte ${i} ^ 0x${mask.toString(16)} → ${res.plaintext.length} bytes`);
        } catch (e) {
          const ok = e instanceof CipherError && e.code === "decrypt_failed" && !e.message.includes(SECRET);
          if (!ok) wrongError.push(`byte ${i} ^ 0x${mask.toString(16)}: ${String(e)}`);
        }
      }
    }
    expect(accepted).toEqual([]);
    expect(wrongError).toEqual([]);
    // The untouched blob still decrypts, so the failures above are the flips' doing.
    expect((await c.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
  });

  it("rejects the blob under another org, provider or credential id (AAD binding)", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const others: AadContext[] = [
      { ...ctx, org: "org_other" },
      { ...ctx, provider: "aws" },
      { ...ctx, credentialId: "cred_02" },
      { ...ctx, org: "ORG_ACME" },
      { org: "", provider: "", credentialId: "" },
      // A naive "a|b" join would confuse these two; the JSON-array AAD does not.
      { org: "org_acme|gcp", provider: "", credentialId: "cred_01" },
    ];
    for (const other of others) await expectCipherError(c.decrypt(blob, other), "decrypt_failed", SECRET);
    expect((await c.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
  });

  it("rejects a blob swapped between two rows (confused deputy)", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const ctxB: AadContext = { org: "org_beta", provider: "gcp", credentialId: "cred_09" };
    const a = (await c.encrypt(Buffer.from("secret-a"), ctx)).ciphertext;
    const b = (await c.encrypt(Buffer.from("secret-b"), ctxB)).ciphertext;
    await expectCipherError(c.decrypt(a, ctxB), "decrypt_failed", "secret-a");
    await expectCipherError(c.decrypt(b, ctx), "decrypt_failed", "secret-b");
  });

  it("rejects truncated blobs, an empty buffer and header-only input", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    for (const cut of [1, 4, 12, 16]) {
      await expectCipherError(c.decrypt(blob.subarray(0, blob.length - cut), ctx), "decrypt_failed", SECRET);
    }
    await expectCipherError(c.decrypt(Buffer.alloc(0), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(blob.subarray(0, 1), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(blob.subarray(0, 4), ctx), "decrypt_failed"); // header only
    await expectCipherError(c.decrypt(blob.subarray(0, 16), ctx), "decrypt_failed"); // header + nonce
    await expectCipherError(c.decrypt(blob.subarray(0, 4 + 12 + 15), ctx), "decrypt_failed"); // one byte short of a tag
    await expectCipherError(c.decrypt("not a buffer" as unknown as Buffer, ctx), "decrypt_failed");
  });

  it("rejects a bad header: unknown format version, key id length 0 or > 32, non-ascii key id", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const withByte = (i: number, v: number) => {
      const b = Buffer.from(blob);
      b[i] = v;
      return b;
    };
    await expectCipherError(c.decrypt(withByte(0, 0x02), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(withByte(0, 0x00), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(withByte(1, 0), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(withByte(1, 33), ctx), "decrypt_failed");
    await expectCipherError(c.decrypt(withByte(2, 0xe9), ctx), "decrypt_failed");
  });

  it("rejects an unknown key version with a message saying so", async () => {
    const c = new LocalKeyRingCipher({ dataDir: freshDataDir() });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const relabelled = Buffer.from(blob);
    relabelled.write("k9", 2, "ascii");
    const err = await expectCipherError(c.decrypt(relabelled, ctx), "decrypt_failed", SECRET);
    expect(err.message).toMatch(/key version "k9" is not in the local key ring/);
  });

  it("authenticates the header: relabelling a blob to another id holding the same key still fails", async () => {
    // Two ids with identical key bytes: only the header-in-AAD tells them apart.
    const dir = freshDataDir();
    const key = randomBytes(32).toString("base64");
    const now = new Date().toISOString();
    writeKeyRing(dir, {
      version: 1,
      primary: "k1",
      keys: [
        { id: "k1", key, created_at: now },
        { id: "k2", key, created_at: now },
      ],
    });
    const c = new LocalKeyRingCipher({ dataDir: dir });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const relabelled = Buffer.from(blob);
    relabelled.write("k2", 2, "ascii");
    await expectCipherError(c.decrypt(relabelled, ctx), "decrypt_failed", SECRET);
  });

  it("error objects carry no plaintext, key bytes or cause", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir });
    const { ciphertext: blob } = await c.encrypt(Buffer.from(SECRET), ctx);
    const ring = JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as { keys: { key: string }[] };
    const keyB64 = ring.keys[0]!.key;
    const err = await expectCipherError(c.decrypt(blob, { ...ctx, org: "x" }), "decrypt_failed", SECRET);
    expect(err.message).toBe(
      "The stored credential could not be decrypted (tampered, moved to another row, or its key version is gone).",
    );
    expect(err.cause).toBeUndefined();
    expect(`${err.stack}${JSON.stringify(err)}`).not.toContain(keyB64);
  });

  it("never exposes key bytes when the cipher itself is inspected or serialized", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir });
    await c.ping();
    const keyB64 = (JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as { keys: { key: string }[] }).keys[0]!.key;
    const { inspect } = await import("node:util");
    expect(inspect(c, { depth: 10, showHidden: true })).not.toContain(keyB64);
    expect(JSON.stringify(c)).not.toContain(keyB64);
  });
});

describe("AES-256-GCM primitive (Wycheproof aes_gcm_test.json, 96-bit IV / 256-bit key)", () => {
  // tcId 91, 92, 94, 100, 101, 102 from C2SP/wycheproof testvectors_v1/aes_gcm_test.json.
  const vectors = [
    { tcId: 91, key: "92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20", iv: "00112233445566778899aabb", aad: "00000000ffffffff", msg: "00010203040506070809", ct: "e27abdd2d2a53d2f136b", tag: "9a4a2579529301bcfb71c78d4060f52c" },
    { tcId: 92, key: "29d3a44f8723dc640239100c365423a312934ac80239212ac3df3421a2098123", iv: "00112233445566778899aabb", aad: "aabbccddeeff", msg: "", ct: "", tag: "2a7d77fa526b8250cb296078926b5020" },
    { tcId: 94, key: "cc56b680552eb75008f5484b4cb803fa5063ebd6eab91f6ab6aef4916a766273", iv: "99e23ec48985bccdeeab60f1", aad: "", msg: "2a", ct: "06", tag: "633c1e9703ef744ffffb40edf9d14355" },
    { tcId: 100, key: "b279f57e19c8f53f2f963f5f2519fdb7c1779be2ca2b3ae8e1128b7d6c627fc4", iv: "98bc2c7438d5cd7665d76f6e", aad: "c0", msg: "fcc515b294408c8645c9183e3f4ecee5127846d1", ct: "eb5500e3825952866d911253f8de860c00831c81", tag: "ecb660e1fb0541ec41e8d68a64141b3a" },
    { tcId: 101, key: "cdccfe3f46d782ef47df4e72f0c02d9c7f774def970d23486f11a57f54247f17", iv: "376187894605a8d45e30de51", aad: "956846a209e087ed", msg: "e28e0e9f9d22463ac0e42639b530f42102fded75", ct: "feca44952447015b5df1f456df8ca4bb4eee2ce2", tag: "082e91924deeb77880e1b1c84f9b8d30" },
    { tcId: 102, key: "f32364b1d339d82e4f132d8f4a0ec1ff7e746517fa07ef1a7f422f4e25a48194", iv: "5a86a50a0e8a179c734b996d", aad: "ab2ac7c44c60bdf8228c7884adb20184", msg: "43891bccb522b1e72a6b53cf31c074e9d6c2df8e", ct: "43dda832e942e286da314daa99bef5071d9d2c78", tag: "c3922583476ced575404ddb85dd8cd44" },
  ];
  const hex = (s: string) => Buffer.from(s, "hex");

  it.each(vectors)("tcId $tcId seals and opens to the expected bytes", (v) => {
    const sealed = gcmSeal(hex(v.key), hex(v.iv), hex(v.aad), hex(v.msg));
    expect(sealed.ciphertext.toString("hex")).toBe(v.ct);
    expect(sealed.tag.toString("hex")).toBe(v.tag);
    expect(gcmOpen(hex(v.key), hex(v.iv), hex(v.aad), hex(v.ct), hex(v.tag)).toString("hex")).toBe(v.msg);
  });

  it.each(vectors)("tcId $tcId: every modified or truncated tag is rejected", (v) => {
    const open = (tag: Buffer) => () => gcmOpen(hex(v.key), hex(v.iv), hex(v.aad), hex(v.ct), tag);
    const tag = hex(v.tag);
    for (let bit = 0; bit < 128; bit++) {
      const t = Buffer.from(tag);
      t[bit >> 3] = (t[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(open(t)).toThrow(CipherError);
    }
    expect(open(Buffer.alloc(16))).toThrow(CipherError);
    expect(open(Buffer.alloc(16, 0xff))).toThrow(CipherError);
    // Regression for Node accepting truncated tags (https://nodejs.org/api/crypto.html#deciphersetauthtagbuffer-encoding: authTagLength): a correct prefix
    // of the real tag must not authenticate.
    for (const len of [0, 4, 8, 12, 15]) expect(open(tag.subarray(0, len))).toThrow(CipherError);
  });

  it("rejects a wrong nonce length", () => {
    const v = vectors[0]!;
    expect(() => gcmOpen(hex(v.key), hex(v.iv).subarray(0, 8), hex(v.aad), hex(v.ct), hex(v.tag))).toThrow(CipherError);
    expect(() => gcmOpen(hex(v.key), Buffer.concat([hex(v.iv), Buffer.alloc(4)]), hex(v.aad), hex(v.ct), hex(v.tag))).toThrow(
      CipherError,
    );
  });
});

describe("key ring versions", () => {
  it("adds k2 as primary, keeps k1 decrypting, and fails closed once k1 is retired", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir });
    const old = await c.encrypt(Buffer.from("old-secret"), ctx);
    expect(old.keyVersion).toBe("k1");

    expect(await addKeyVersion(dir)).toBe("k2");
    expect(await c.primaryKeyVersion()).toBe("k2");

    const oldDec = await c.decrypt(old.ciphertext, ctx);
    expect(oldDec.plaintext.toString()).toBe("old-secret");
    expect(oldDec.keyVersion).toBe("k1");
    expect(oldDec.usedPrimary).toBe(false);

    const fresh = await c.encrypt(Buffer.from("new-secret"), ctx);
    expect(fresh.keyVersion).toBe("k2");
    expect(fresh.ciphertext.subarray(2, 4).toString("ascii")).toBe("k2");
    expect((await c.decrypt(fresh.ciphertext, ctx)).usedPrimary).toBe(true);

    await retireKeyVersion(dir, "k1");
    const err = await expectCipherError(c.decrypt(old.ciphertext, ctx), "decrypt_failed", "old-secret");
    expect(err.message).toMatch(/not in the local key ring/);
    expect((await c.decrypt(fresh.ciphertext, ctx)).plaintext.toString()).toBe("new-secret");

    await expectCipherError(retireKeyVersion(dir, "k2"), "misconfigured"); // the primary
    await expectCipherError(retireKeyVersion(dir, "k7"), "misconfigured"); // not in the ring
    expect(await c.primaryKeyVersion()).toBe("k2");
  });

  it("never reuses a retired id and keeps the file 0600 after each change", async () => {
    const dir = freshDataDir();
    expect(await addKeyVersion(dir)).toBe("k2"); // creates k1 first
    await retireKeyVersion(dir, "k1");
    expect(await addKeyVersion(dir)).toBe("k3");
    const ring = JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as { primary: string; keys: { id: string }[] };
    expect(ring.primary).toBe("k3");
    expect(ring.keys.map((k) => k.id)).toEqual(["k2", "k3"]);
    expect(mode(keyringPath(dir))).toBe(0o600);
    // No temp or lock files left behind.
    expect(fs.readdirSync(dir)).toEqual([KEYRING_FILE]);
  });

  it("a second instance on the same dir sees a key added elsewhere (reload on file change)", async () => {
    const dir = freshDataDir();
    const a = new LocalKeyRingCipher({ dataDir: dir });
    const b = new LocalKeyRingCipher({ dataDir: dir });
    const first = await a.encrypt(Buffer.from(SECRET), ctx);
    expect(await b.primaryKeyVersion()).toBe("k1");

    await addKeyVersion(dir); // as a `kms rotate` in another process would

    expect(await a.primaryKeyVersion()).toBe("k2");
    expect(await b.primaryKeyVersion()).toBe("k2");
    const second = await b.encrypt(Buffer.from(SECRET), ctx);
    expect(second.keyVersion).toBe("k2");
    expect((await a.decrypt(second.ciphertext, ctx)).usedPrimary).toBe(true);
    expect((await b.decrypt(first.ciphertext, ctx)).usedPrimary).toBe(false);
  });

  it("a key ring replaced by another process is seen by encrypt through the DATA_DIR watch, long before recheckMs", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir, recheckMs: 3_600_000 });
    expect((await c.encrypt(Buffer.from(SECRET), ctx)).keyVersion).toBe("k1");
    const ring = JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as { primary: string; keys: { id: string; key: string; created_at: string }[] };
    ring.keys.push({ id: "k2", key: randomBytes(32).toString("base64"), created_at: new Date().toISOString() });
    ring.primary = "k2";
    // As writePrivateFile does: a new file renamed over the old one.
    const tmp = path.join(dir, ".keyring.tmp");
    fs.writeFileSync(tmp, JSON.stringify(ring), { mode: 0o600 });
    fs.renameSync(tmp, keyringPath(dir));
    // The watch event comes when this process's event loop gets to it: poll, however loaded the machine.
    const version = await waitFor(async () => {
      const v = (await c.encrypt(Buffer.from(SECRET), ctx)).keyVersion;
      return v === "k2" && v;
    }, "encrypt to use the replaced key ring");
    expect(version).toBe("k2");
  });

  it("breaks a stale lock left by a crashed run", async () => {
    const dir = freshDataDir();
    await new LocalKeyRingCipher({ dataDir: dir }).ping();
    const lock = path.join(dir, `${KEYRING_FILE}.lock`);
    fs.writeFileSync(lock, "99999\n");
    const old = new Date(Date.now() - 5 * 60_000);
    fs.utimesSync(lock, old, old);
    expect(await addKeyVersion(dir)).toBe("k2");
    expect(fs.existsSync(lock)).toBe(false);
  });
});

describe("key ring file: creation, permissions, validation", () => {
  it("creates the data dir 0700 and keyring.json 0600 in the documented format", async () => {
    const dir = freshDataDir();
    expect(fs.existsSync(dir)).toBe(false);
    await new LocalKeyRingCipher({ dataDir: dir }).ping();
    expect(mode(dir)).toBe(0o700);
    expect(mode(keyringPath(dir))).toBe(0o600);
    const ring = JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as {
      version: number;
      primary: string;
      keys: { id: string; key: string; created_at: string }[];
    };
    expect(ring.version).toBe(1);
    expect(ring.primary).toBe("k1");
    expect(ring.keys).toHaveLength(1);
    expect(ring.keys[0]!.id).toBe("k1");
    expect(Buffer.from(ring.keys[0]!.key, "base64")).toHaveLength(32);
    expect(Number.isNaN(Date.parse(ring.keys[0]!.created_at))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([KEYRING_FILE]);
  });

  it("creates 0700 / 0600 even under a permissive umask", async () => {
    const dir = freshDataDir();
    const prev = process.umask(0);
    try {
      await new LocalKeyRingCipher({ dataDir: dir }).ping();
      await addKeyVersion(dir);
    } finally {
      process.umask(prev);
    }
    expect(mode(dir)).toBe(0o700);
    expect(mode(keyringPath(dir))).toBe(0o600);
  });

  it("writePrivateFile: no-clobber create keeps the first writer's file; replace swaps atomically", () => {
    const dir = freshDataDir();
    fs.mkdirSync(dir, { mode: 0o700 });
    const target = path.join(dir, "secret");
    expect(writePrivateFile(target, "first", { replace: false })).toBe(true);
    expect(writePrivateFile(target, "second", { replace: false })).toBe(false);
    expect(fs.readFileSync(target, "utf8")).toBe("first");
    const inode = fs.statSync(target).ino;
    expect(writePrivateFile(target, "third", { replace: true })).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toBe("third");
    expect(fs.statSync(target).ino).not.toBe(inode);
    expect(mode(target)).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(["secret"]);
  });

  it("uses an existing key ring instead of replacing it", async () => {
    const dir = freshDataDir();
    const a = new LocalKeyRingCipher({ dataDir: dir });
    const blob = (await a.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    const b = new LocalKeyRingCipher({ dataDir: dir });
    expect((await b.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
  });

  it("tightens a keyring file chmod'ed 0644 to 0600 on load", async () => {
    const dir = freshDataDir();
    const blob = (await new LocalKeyRingCipher({ dataDir: dir }).encrypt(Buffer.from(SECRET), ctx)).ciphertext;
    fs.chmodSync(keyringPath(dir), 0o644);
    const c = new LocalKeyRingCipher({ dataDir: dir });
    expect((await c.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
    expect(mode(keyringPath(dir))).toBe(0o600);
  });

  it("re-tightens when the file is loosened while in use", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir });
    await c.ping();
    fs.chmodSync(keyringPath(dir), 0o664);
    await c.ping();
    expect(mode(keyringPath(dir))).toBe(0o600);
  });

  it("refuses a corrupt or invalid key ring with misconfigured, never quoting key material", async () => {
    const now = new Date().toISOString();
    const shortKey = randomBytes(16).toString("base64");
    const goodKey = randomBytes(32).toString("base64");
    const cases: { name: string; content: string; leak?: string }[] = [
      { name: "not JSON", content: `${goodKey} garbage`, leak: goodKey.slice(0, 10) },
      { name: "truncated JSON", content: `{"version":1,"primary":"k1","keys":[{"id":"k1","key":"${goodKey}"`, leak: goodKey },
      { name: "empty file", content: "" },
      { name: "short key", content: JSON.stringify({ version: 1, primary: "k1", keys: [{ id: "k1", key: shortKey, created_at: now }] }), leak: shortKey },
      { name: "key not base64", content: JSON.stringify({ version: 1, primary: "k1", keys: [{ id: "k1", key: `${goodKey.slice(0, 40)}!!!=`, created_at: now }] }), leak: goodKey.slice(0, 40) },
      { name: "wrong version", content: JSON.stringify({ version: 2, primary: "k1", keys: [{ id: "k1", key: goodKey, created_at: now }] }), leak: goodKey },
      { name: "primary missing from keys", content: JSON.stringify({ version: 1, primary: "k2", keys: [{ id: "k1", key: goodKey, created_at: now }] }), leak: goodKey },
      { name: "duplicate ids", content: JSON.stringify({ version: 1, primary: "k1", keys: [{ id: "k1", key: goodKey, created_at: now }, { id: "k1", key: goodKey, created_at: now }] }), leak: goodKey },
      { name: "no keys", content: JSON.stringify({ version: 1, primary: "k1", keys: [] }) },
      { name: "bad key id", content: JSON.stringify({ version: 1, primary: "k 1", keys: [{ id: "k 1", key: goodKey, created_at: now }] }), leak: goodKey },
      { name: "key id too long", content: JSON.stringify({ version: 1, primary: "k".repeat(33), keys: [{ id: "k".repeat(33), key: goodKey, created_at: now }] }), leak: goodKey },
    ];
    for (const tc of cases) {
      const dir = freshDataDir();
      writeKeyRing(dir, tc.content);
      const c = new LocalKeyRingCipher({ dataDir: dir });
      const err = await expectCipherError(c.ping(), "misconfigured", tc.leak);
      expect(err.message, tc.name).toContain(keyringPath(dir));
      await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured", tc.leak);
      // The corrupt file is left alone for the operator; it is never replaced with a fresh key.
      expect(fs.readFileSync(keyringPath(dir), "utf8")).toBe(tc.content);
    }
  });

  it("with createIfMissing: false, a missing key ring is an error and nothing is created", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir, createIfMissing: false });
    await expectCipherError(c.ping(), "misconfigured");
    await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured");
    expect(fs.existsSync(keyringPath(dir))).toBe(false);
  });

  it("does not silently regenerate a key ring deleted while in use", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir, recheckMs: 0 });
    await c.ping();
    fs.rmSync(keyringPath(dir));
    await expectCipherError(c.encrypt(Buffer.from(SECRET), ctx), "misconfigured");
    await expectCipherError(c.ping(), "misconfigured");
    expect(fs.existsSync(keyringPath(dir))).toBe(false);
  });

  it("encrypt does not stat the key ring on every call, yet sees a rotation: at once in-process, within recheckMs from another process", async () => {
    const dir = freshDataDir();
    const c = new LocalKeyRingCipher({ dataDir: dir, recheckMs: 60_000 });
    await c.ping();
    const stat = vi.spyOn(fs, "statSync");
    const fstat = vi.spyOn(fs, "fstatSync");
    try {
      for (let i = 0; i < 100; i++) await c.encrypt(Buffer.from(SECRET), ctx);
      expect(stat).not.toHaveBeenCalled();
      expect(fstat).not.toHaveBeenCalled();
    } finally {
      stat.mockRestore();
      fstat.mockRestore();
    }
    // In this process (the kms functions of this module): seen at once.
    await addKeyVersion(dir);
    expect((await c.encrypt(Buffer.from(SECRET), ctx)).keyVersion).toBe("k2");
    // Another process rewriting the file: until the DATA_DIR watch fires (a later event-loop turn)
    // or the interval passes, the old primary may still encrypt (it still decrypts everywhere) …
    const ring = JSON.parse(fs.readFileSync(keyringPath(dir), "utf8")) as { primary: string; keys: { id: string; key: string; created_at: string }[] };
    ring.keys.push({ id: "k3", key: randomBytes(32).toString("base64"), created_at: new Date().toISOString() });
    ring.primary = "k3";
    fs.writeFileSync(keyringPath(dir), JSON.stringify(ring));
    expect((await c.encrypt(Buffer.from(SECRET), ctx)).keyVersion).toBe("k2");
    // … decrypt always checks the file, and then encrypt uses the new primary.
    const other = await new LocalKeyRingCipher({ dataDir: dir }).encrypt(Buffer.from(SECRET), ctx);
    expect(other.keyVersion).toBe("k3");
    expect((await c.decrypt(other.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
    expect((await c.encrypt(Buffer.from(SECRET), ctx)).keyVersion).toBe("k3");
    // With recheckMs 0 every encrypt checks the file.
    const quick = new LocalKeyRingCipher({ dataDir: dir, recheckMs: 0 });
    await quick.ping();
    ring.keys.push({ id: "k4", key: randomBytes(32).toString("base64"), created_at: new Date().toISOString() });
    ring.primary = "k4";
    fs.writeFileSync(keyringPath(dir), JSON.stringify(ring));
    expect((await quick.encrypt(Buffer.from(SECRET), ctx)).keyVersion).toBe("k4");
  });
});

describe("createCipher", () => {
  it("builds the local cipher", async () => {
    const c = createCipher({ backend: "local", dataDir: freshDataDir() });
    expect(c.backend).toBe("local");
    const enc = await c.encrypt(Buffer.from(SECRET), ctx);
    expect((await c.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(SECRET);
  });

  it("refuses gcp for now and unknown backends", () => {
    const dataDir = freshDataDir();
    expect(() => createCipher({ backend: "gcp", dataDir })).toThrow(/GCP_KMS_KEY is required/);
    try {
      createCipher({ backend: "gcp", dataDir });
    } catch (e) {
      expect((e as CipherError).code).toBe("misconfigured");
    }
    expect(() => createCipher({ backend: "aws" as "local", dataDir })).toThrow(CipherError);
  });
});
