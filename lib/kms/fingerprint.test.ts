import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CipherError } from "./cipher";
import { canonicalize, fingerprintOf, loadOrCreatePepper, PEPPER_FILE } from "./fingerprint";

const tmpRoots: string[] = [];
function freshDataDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kms-fp-"));
  tmpRoots.push(root);
  return path.join(root, "data");
}
afterEach(() => {
  for (const r of tmpRoots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
const mode = (p: string) => fs.statSync(p).mode & 0o777;

const pepperA = Buffer.alloc(32, 0x11);
const pepperB = Buffer.alloc(32, 0x22);

describe("fingerprintOf", () => {
  it("is 8 lowercase hex chars of HMAC-SHA256 (RFC 4231 test case 1)", () => {
    // HMAC-SHA256(key = 0x0b × 20, "Hi There") = b0344c61d8db3853…
    expect(fingerprintOf("Hi There", Buffer.alloc(20, 0x0b))).toBe("b0344c61");
  });

  it("is stable across calls and changes with the pepper", () => {
    const canonical = canonicalize({ apiKey: "sk-live-abc" });
    const fp = fingerprintOf(canonical, pepperA);
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    expect(fingerprintOf(canonical, pepperA)).toBe(fp);
    expect(fingerprintOf(canonical, Buffer.from(pepperA))).toBe(fp);
    expect(fingerprintOf(canonical, pepperB)).not.toBe(fp);
    expect(fingerprintOf(canonicalize({ apiKey: "sk-live-abd" }), pepperA)).not.toBe(fp);
  });

  it("is never a piece of the secret", () => {
    for (let i = 0; i < 200; i++) {
      const secret = randomBytes(24).toString("hex");
      const fp = fingerprintOf(canonicalize({ apiKey: secret }), pepperA);
      expect(secret).not.toContain(fp);
      expect(fp).not.toBe(secret.slice(0, 8));
    }
  });

  it("refuses a pepper shorter than 16 bytes", () => {
    expect(() => fingerprintOf("x", Buffer.alloc(15))).toThrow(CipherError);
  });
});

describe("canonicalize", () => {
  it("sorts object keys recursively and keeps array order", () => {
    const value = { b: { d: [3, { z: 1, y: 2 }], c: 2 }, a: 1 };
    expect(canonicalize(value)).toBe('{"a":1,"b":{"c":2,"d":[3,{"y":2,"z":1}]}}');
    expect(canonicalize([2, 1])).not.toBe(canonicalize([1, 2]));
  });

  it("gives {a,b} and {b,a} the same fingerprint", () => {
    const x = { client_email: "svc@p.iam.gserviceaccount.com", private_key: "-----BEGIN…", nested: { q: 1, p: [1, 2] } };
    const y = { nested: { p: [1, 2], q: 1 }, private_key: "-----BEGIN…", client_email: "svc@p.iam.gserviceaccount.com" };
    expect(canonicalize(x)).toBe(canonicalize(y));
    expect(fingerprintOf(canonicalize(x), pepperA)).toBe(fingerprintOf(canonicalize(y), pepperA));
  });

  it("follows JSON.stringify for scalars, undefined, toJSON and non-finite numbers", () => {
    expect(canonicalize("a\"b\n")).toBe(JSON.stringify("a\"b\n"));
    expect(canonicalize(null)).toBe("null");
    expect(canonicalize(true)).toBe("true");
    expect(canonicalize(1.5)).toBe("1.5");
    expect(canonicalize({ a: undefined, b: () => 1, c: NaN, d: [undefined, Infinity] })).toBe('{"c":null,"d":[null,null]}');
    expect(canonicalize({ t: new Date(0) })).toBe('{"t":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalize({ "10": 1, "2": 2, b: 3 })).toBe('{"10":1,"2":2,"b":3}');
    const v = { z: [1, { y: "é", x: null }], a: { c: {}, b: [] } };
    expect(JSON.parse(canonicalize(v))).toEqual(v);
  });

  it("throws on cycles, BigInt and values with no JSON form", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalize(cyclic)).toThrow(TypeError);
    expect(() => canonicalize({ n: 1n })).toThrow(TypeError);
    expect(() => canonicalize(undefined)).toThrow(TypeError);
    // A repeated (non-cyclic) reference is fine.
    const shared = { k: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});

describe("loadOrCreatePepper", () => {
  it("creates a 32-byte pepper file with mode 0600 (dir 0700) and reuses it", () => {
    const dir = freshDataDir();
    const p1 = loadOrCreatePepper(dir);
    expect(p1).toHaveLength(32);
    const file = path.join(dir, PEPPER_FILE);
    expect(mode(file)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64").equals(p1)).toBe(true);
    const p2 = loadOrCreatePepper(dir);
    expect(p2.equals(p1)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([PEPPER_FILE]);
  });

  it("different data dirs get different peppers", () => {
    expect(loadOrCreatePepper(freshDataDir()).equals(loadOrCreatePepper(freshDataDir()))).toBe(false);
  });

  it("tightens a pepper file chmod'ed 0644", () => {
    const dir = freshDataDir();
    const p1 = loadOrCreatePepper(dir);
    const file = path.join(dir, PEPPER_FILE);
    fs.chmodSync(file, 0o644);
    expect(loadOrCreatePepper(dir).equals(p1)).toBe(true);
    expect(mode(file)).toBe(0o600);
  });

  it("uses an explicit override (standard or url-safe base64) and creates no file", () => {
    const dir = freshDataDir();
    const raw = randomBytes(32);
    expect(loadOrCreatePepper(dir, raw.toString("base64")).equals(raw)).toBe(true);
    expect(loadOrCreatePepper(dir, raw.toString("base64url")).equals(raw)).toBe(true);
    expect(loadOrCreatePepper(dir, raw.subarray(0, 16).toString("base64")).equals(raw.subarray(0, 16))).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("rejects a short or malformed override without quoting it", () => {
    const dir = freshDataDir();
    const short = randomBytes(15).toString("base64");
    for (const bad of [short, "not base64!!", "@@@@@@@@@@@@@@@@@@@@@@@@", "a"]) {
      let err: unknown;
      try {
        loadOrCreatePepper(dir, bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CipherError);
      expect((err as CipherError).code).toBe("misconfigured");
      expect((err as CipherError).message).toMatch(/FINGERPRINT_PEPPER must be base64 of at least 16/);
      if (bad.length >= 8) expect((err as CipherError).message).not.toContain(bad);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("treats an empty override as not set", () => {
    const dir = freshDataDir();
    const fromFile = loadOrCreatePepper(dir);
    expect(loadOrCreatePepper(dir, "").equals(fromFile)).toBe(true);
  });

  it("refuses a pepper file that holds too few bytes", () => {
    const dir = freshDataDir();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const short = randomBytes(8).toString("base64");
    fs.writeFileSync(path.join(dir, PEPPER_FILE), `${short}\n`, { mode: 0o600 });
    expect(() => loadOrCreatePepper(dir)).toThrow(/fingerprint pepper file .* is invalid/);
    expect(fs.readFileSync(path.join(dir, PEPPER_FILE), "utf8")).toBe(`${short}\n`);
  });
});
