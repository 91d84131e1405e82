import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { CipherError, type AadContext, type Cipher } from "./cipher";

/**
 * The behaviour every Cipher backend shares, as a vitest suite. Test-only (imports vitest):
 * run it from a `*.test.ts` file with `describeCipherContract("name", make)`.
 *
 * `make` builds a fresh, isolated backend per test. `rotate` adds a key version and makes it the
 * primary (returns the version new encryptions record); `retire` makes a non-primary version
 * unusable for decryption (local: removed from the ring; Cloud KMS: disabled).
 */
export interface CipherHarness {
  cipher: Cipher;
  rotate(): Promise<string>;
  retire(keyVersion: string): Promise<void>;
  cleanup?(): Promise<void>;
}

export const CONTRACT_CTX: AadContext = { org: "org_acme", provider: "gcp", credentialId: "cred_01" };
export const CONTRACT_SECRET = "sk-live-4f9a1c2e8b7d6a5f3e2d1c0b";

/** Assert the promise rejects with a CipherError of `code` whose text does not leak `secret`. */
export async function expectCipherError(p: Promise<unknown>, code: string, secret?: string): Promise<CipherError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "expected a rejection, got a result").toBeInstanceOf(CipherError);
  const ce = err as CipherError;
  expect(ce.code, ce.message).toBe(code);
  if (secret !== undefined) {
    const dump = `${ce.message}\n${ce.stack ?? ""}\n${JSON.stringify(ce)}\n${String(ce.cause ?? "")}`;
    expect(dump).not.toContain(secret);
  }
  return ce;
}

/** A service-account-shaped JSON of about 2.3 KB (fake key material). */
export function fakeServiceAccountJson(): string {
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

export function describeCipherContract(name: string, make: () => Promise<CipherHarness>): void {
  describe(`Cipher contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });
    async function harness(): Promise<CipherHarness> {
      const h = await make();
      if (h.cleanup) cleanups.push(h.cleanup);
      return h;
    }
    const ctx = CONTRACT_CTX;
    const SECRET = CONTRACT_SECRET;

    it("round-trips a short string under the primary key version", async () => {
      const { cipher } = await harness();
      const primary = await cipher.primaryKeyVersion();
      const enc = await cipher.encrypt(Buffer.from(SECRET), ctx);
      expect(enc.keyVersion).toBe(primary);
      expect(enc.keyRef.length).toBeGreaterThan(0);
      expect(enc.ciphertext.includes(Buffer.from(SECRET))).toBe(false);
      const dec = await cipher.decrypt(enc.ciphertext, ctx);
      expect(dec.plaintext.toString()).toBe(SECRET);
      expect(dec.usedPrimary).toBe(true);
      expect(dec.keyVersion.length).toBeGreaterThan(0);
    });

    it("round-trips a ~2.3 KB service-account JSON", async () => {
      const sa = fakeServiceAccountJson();
      expect(sa.length).toBeGreaterThan(2200);
      expect(sa.length).toBeLessThan(2500);
      const { cipher } = await harness();
      const enc = await cipher.encrypt(Buffer.from(sa), ctx);
      expect((await cipher.decrypt(enc.ciphertext, ctx)).plaintext.toString()).toBe(sa);
    });

    it("round-trips a 64 KiB binary payload and an empty one", async () => {
      const { cipher } = await harness();
      const big = randomBytes(64 * 1024);
      const enc = await cipher.encrypt(big, ctx);
      expect((await cipher.decrypt(enc.ciphertext, ctx)).plaintext.equals(big)).toBe(true);
      const empty = await cipher.encrypt(Buffer.alloc(0), ctx);
      expect((await cipher.decrypt(empty.ciphertext, ctx)).plaintext.length).toBe(0);
    });

    it("is randomized: two encryptions of the same plaintext differ and both decrypt", async () => {
      const { cipher } = await harness();
      const a = (await cipher.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
      const b = (await cipher.encrypt(Buffer.from(SECRET), ctx)).ciphertext;
      expect(a.equals(b)).toBe(false);
      expect((await cipher.decrypt(a, ctx)).plaintext.toString()).toBe(SECRET);
      expect((await cipher.decrypt(b, ctx)).plaintext.toString()).toBe(SECRET);
    });

    it("rejects a non-Buffer plaintext with a TypeError", async () => {
      const { cipher } = await harness();
      await expect(cipher.encrypt("text" as unknown as Buffer, ctx)).rejects.toThrow(TypeError);
    });

    it("rejects every single-byte flip (xor 0x01 and 0x80) anywhere in the ciphertext", async () => {
      const { cipher } = await harness();
      const { ciphertext: blob } = await cipher.encrypt(Buffer.from(SECRET), ctx);
      const accepted: string[] = [];
      const wrongError: string[] = [];
      for (let i = 0; i < blob.length; i++) {
        for (const mask of [0x01, 0x80]) {
          const tampered = Buffer.from(blob);
          tampered[i] = (tampered[i] as number) ^ mask;
          try {
            const res = await cipher.decrypt(tampered, ctx);
            accepted.push(`byte ${i} ^ 0x${mask.toString(16)} → ${res.plaintext.length} bytes`);
          } catch (e) {
            const ok = e instanceof CipherError && e.code === "decrypt_failed" && !e.message.includes(SECRET);
            if (!ok) wrongError.push(`byte ${i} ^ 0x${mask.toString(16)}: ${String(e)}`);
          }
        }
      }
      expect(accepted).toEqual([]);
      expect(wrongError).toEqual([]);
      expect((await cipher.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
    });

    it("rejects the ciphertext under another org, provider or credential id (AAD binding)", async () => {
      const { cipher } = await harness();
      const { ciphertext: blob } = await cipher.encrypt(Buffer.from(SECRET), ctx);
      const others: AadContext[] = [
        { ...ctx, org: "org_other" },
        { ...ctx, provider: "aws" },
        { ...ctx, credentialId: "cred_02" },
        { ...ctx, org: "ORG_ACME" },
        { org: "", provider: "", credentialId: "" },
        // A naive "a|b" join would confuse these two; the JSON-array AAD does not.
        { org: "org_acme|gcp", provider: "", credentialId: "cred_01" },
      ];
      for (const other of others) await expectCipherError(cipher.decrypt(blob, other), "decrypt_failed", SECRET);
      expect((await cipher.decrypt(blob, ctx)).plaintext.toString()).toBe(SECRET);
    });

    it("rejects a ciphertext swapped between two rows (confused deputy)", async () => {
      const { cipher } = await harness();
      const ctxB: AadContext = { org: "org_beta", provider: "gcp", credentialId: "cred_09" };
      const a = (await cipher.encrypt(Buffer.from("secret-a"), ctx)).ciphertext;
      const b = (await cipher.encrypt(Buffer.from("secret-b"), ctxB)).ciphertext;
      await expectCipherError(cipher.decrypt(a, ctxB), "decrypt_failed", "secret-a");
      await expectCipherError(cipher.decrypt(b, ctx), "decrypt_failed", "secret-b");
    });

    it("rejects truncated ciphertexts, an empty buffer and a non-Buffer", async () => {
      const { cipher } = await harness();
      const { ciphertext: blob } = await cipher.encrypt(Buffer.from(SECRET), ctx);
      for (const cut of [1, 4, 12, 16]) {
        await expectCipherError(cipher.decrypt(blob.subarray(0, blob.length - cut), ctx), "decrypt_failed", SECRET);
      }
      for (const keep of [1, 4, 16]) await expectCipherError(cipher.decrypt(blob.subarray(0, keep), ctx), "decrypt_failed");
      await expectCipherError(cipher.decrypt(Buffer.alloc(0), ctx), "decrypt_failed");
      await expectCipherError(cipher.decrypt("not a buffer" as unknown as Buffer, ctx), "decrypt_failed");
    });

    it("errors carry no plaintext and no cause", async () => {
      const { cipher } = await harness();
      const { ciphertext: blob } = await cipher.encrypt(Buffer.from(SECRET), ctx);
      const err = await expectCipherError(cipher.decrypt(blob, { ...ctx, org: "x" }), "decrypt_failed", SECRET);
      expect(err.cause).toBeUndefined();
    });

    it("rotation: old ciphertexts still decrypt (usedPrimary=false), new ones record the new primary", async () => {
      const h = await harness();
      const { cipher } = h;
      const v1 = await cipher.primaryKeyVersion();
      const old = await cipher.encrypt(Buffer.from("old-secret"), ctx);
      expect(old.keyVersion).toBe(v1);
      const v2 = await h.rotate();
      expect(v2).not.toBe(v1);
      expect(await cipher.primaryKeyVersion()).toBe(v2);
      const oldDec = await cipher.decrypt(old.ciphertext, ctx);
      expect(oldDec.plaintext.toString()).toBe("old-secret");
      expect(oldDec.usedPrimary).toBe(false);
      const fresh = await cipher.encrypt(Buffer.from("new-secret"), ctx);
      expect(fresh.keyVersion).toBe(v2);
      expect(fresh.keyRef).toBe(old.keyRef);
      const freshDec = await cipher.decrypt(fresh.ciphertext, ctx);
      expect(freshDec.plaintext.toString()).toBe("new-secret");
      expect(freshDec.usedPrimary).toBe(true);
    });

    it("a retired key version fails closed with decrypt_failed; newer ciphertexts are unaffected", async () => {
      const h = await harness();
      const { cipher } = h;
      const old = await cipher.encrypt(Buffer.from("old-secret"), ctx);
      await h.rotate();
      const fresh = await cipher.encrypt(Buffer.from("new-secret"), ctx);
      await h.retire(old.keyVersion);
      await expectCipherError(cipher.decrypt(old.ciphertext, ctx), "decrypt_failed", "old-secret");
      expect((await cipher.decrypt(fresh.ciphertext, ctx)).plaintext.toString()).toBe("new-secret");
    });

    it("ping resolves when the key is usable", async () => {
      const { cipher } = await harness();
      await expect(cipher.ping()).resolves.toBeUndefined();
    });
  });
}
