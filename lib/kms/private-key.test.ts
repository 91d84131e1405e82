import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { hugeRsaPem, pbkdf2BombPem, scryptBombPem } from "../../tests/security/hostile-keys";
import { checkPemEncryption, firstPemBlock, MAX_PBKDF2_ITERATIONS, openRsaPrivateKey, PrivateKeyError, PRIVATE_KEY_MESSAGES } from "./private-key";

const bounds = { minBits: 2048, maxBits: 4096, sizeReason: "must be an RSA key of 2048 bits or more" };
const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });

function refusal(fn: () => unknown): PrivateKeyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PrivateKeyError) return e;
    throw e;
  }
  throw new Error("expected a PrivateKeyError");
}

describe("openRsaPrivateKey: bounded work for hostile PEMs", () => {
  it("opens what real tools write: PKCS#8 (PBES2/PBKDF2, OpenSSL's 2048 iterations), legacy Proc-Type, plain PKCS#1/PKCS#8", () => {
    for (const pem of [
      privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string,
      privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "pw" }) as string,
      privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    ]) {
      expect(openRsaPrivateKey(pem, "pw", bounds).asymmetricKeyDetails?.modulusLength).toBe(2048);
    }
  });

  it("refuses a PBKDF2 iteration count above the cap before decrypting (no time spent)", () => {
    // Uncapped, this one would run PBKDF2 for minutes (tests/security/stalls.test.ts measures it over HTTP).
    const value = refusal(() => openRsaPrivateKey(pbkdf2BombPem(2_000_000_000), "pw", bounds));
    expect(value.field).toBe("private_key");
    expect(value.reason).toBe(PRIVATE_KEY_MESSAGES.iterations);
    expect(checkPemEncryption(pbkdf2BombPem(MAX_PBKDF2_ITERATIONS + 1))).not.toBeNull();
    // At the cap, the key is tried (random ciphertext: the passphrase "does not decrypt" it).
    expect(refusal(() => openRsaPrivateKey(pbkdf2BombPem(MAX_PBKDF2_ITERATIONS), "pw", bounds)).field).toBe("passphrase");
  });

  it("refuses scrypt parameters above N=16384 r=8 p=1 (p multiplies time, not memory)", () => {
    const e = refusal(() => openRsaPrivateKey(scryptBombPem(16384, 8, 1000), "pw", bounds));
    expect(e).toMatchObject({ field: "private_key", reason: PRIVATE_KEY_MESSAGES.scrypt });
    expect(refusal(() => openRsaPrivateKey(scryptBombPem(1 << 20, 8, 1), "pw", bounds)).reason).toBe(PRIVATE_KEY_MESSAGES.scrypt);
    expect(checkPemEncryption(scryptBombPem(16384, 8, 1))).toBeNull();
  });

  it("refuses an iteration count too large to be a number, and unknown schemes", () => {
    const pem = pbkdf2BombPem(0xff_ffff_ffff); // 5 bytes
    expect(checkPemEncryption(pem)?.reason).toBe(PRIVATE_KEY_MESSAGES.iterations);
    const garbage = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAMCAQA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    expect(checkPemEncryption(garbage)).not.toBeNull();
  });

  it("refuses RSA keys above 4096 bits before any signature is made", () => {
    const e = refusal(() => openRsaPrivateKey(hugeRsaPem(16384), undefined, bounds));
    expect(e).toMatchObject({ field: "private_key", reason: "must be an RSA key of at most 4096 bits" });
    const small = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    expect(refusal(() => openRsaPrivateKey(small, undefined, bounds)).reason).toBe(bounds.sizeReason);
  });

  it("names the passphrase when it is missing or wrong, never quoting node's error", () => {
    const enc = privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string;
    expect(refusal(() => openRsaPrivateKey(enc, undefined, bounds))).toMatchObject({ field: "passphrase", reason: PRIVATE_KEY_MESSAGES.passphraseMissing });
    expect(refusal(() => openRsaPrivateKey(enc, "nope", bounds))).toMatchObject({ field: "passphrase", reason: PRIVATE_KEY_MESSAGES.passphraseWrong });
  });
});

describe("firstPemBlock: the block node:crypto reads, found in linear time", () => {
  // The expression it replaces: the same answer, but quadratic in the number of BEGIN lines without an END.
  const OLD = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/;
  const old = (pem: string) => {
    const m = OLD.exec(pem);
    return m ? { label: m[1]!, body: m[2]! } : null;
  };

  it("finds what the regular expression found, on real keys and on odd layouts", () => {
    const real = privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string;
    const cases = [
      real,
      real.replace(/\n/g, "\r\n"),
      `junk before\n${real}trailing`,
      privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "pw" }) as string,
      "-----BEGIN A-----\n-----END A-----",
      "-----BEGIN A-----\nx\n\n-----END A-----",
      "-----BEGIN A-----\nx\n\r-----END A-----",
      "-----BEGIN A-----\nx\r\r\n-----END A-----",
      "-----BEGIN A-----\n-----BEGIN B-----\nb\n-----END B-----\n-----END A-----",
      "-----BEGIN A-----\nno end\n-----BEGIN B-----\nb\n-----END B-----",
      "-----BEGIN B-----\nx\n-----END A-----END B-----",
      "------BEGIN A-----\nx\n-----END A------",
      "-----BEGIN A B-----\nx\n-----END A-----\n-----END A B-----",
      "-----BEGIN a-----\nx\n-----END a-----",
      "-----BEGIN A-----\rx\n-----END A-----",
      "-----END A-----\n-----BEGIN A-----\nx\n",
      "no pem here",
    ];
    for (const pem of cases) expect(firstPemBlock(pem), JSON.stringify(pem)).toEqual(old(pem));
    // And on random strings over the characters that matter.
    const alphabet = ["-----BEGIN ", "-----END ", "-----", "A", "B", " ", "\n", "\r", "x", "-"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 3000; i++) {
      let pem = "";
      for (let j = rnd(30); j > 0; j--) pem += alphabet[rnd(alphabet.length)];
      expect(firstPemBlock(pem), JSON.stringify(pem)).toEqual(old(pem));
    }
  });

  it("checks a 60 KB key made of BEGIN lines without an END as a plain key (refused later by node, cheaply)", () => {
    let pem = "-----BEGIN PRIVATE KEY-----\n";
    while (pem.length < 60_000) pem += "-----BEGIN A-----\n";
    pem += "-----END RSA PRIVATE KEY-----\n";
    expect(firstPemBlock(pem)).toBeNull();
    expect(checkPemEncryption(pem)).toBeNull();
    expect(refusal(() => openRsaPrivateKey(pem, undefined, bounds)).field).toBe("private_key");
  });
});
