import "server-only";

import { createHmac } from "node:crypto";
import { CipherError } from "./cipher";
import { loadOrCreateServerSecret } from "./server-secret";

/**
 * Credential fingerprints: a short keyed hash that lets logs and the UI tell two credentials apart
 * without revealing either. Keyed (HMAC with a server-side pepper), so a fingerprint cannot be
 * checked against guesses offline by someone who only has the logs.
 */

export const PEPPER_FILE = "fingerprint-pepper";
const PEPPER_BYTES = 32;
const MIN_PEPPER_BYTES = 16;

/** First 8 lowercase hex chars of HMAC-SHA256(pepper, canonical). */
export function fingerprintOf(canonical: string, pepper: Buffer): string {
  if (pepper.length < MIN_PEPPER_BYTES) {
    throw new CipherError("misconfigured", `The fingerprint pepper must be at least ${MIN_PEPPER_BYTES} bytes.`);
  }
  return createHmac("sha256", pepper).update(canonical, "utf8").digest("hex").slice(0, 8);
}

/**
 * JSON with object keys sorted (by UTF-16 code unit) at every depth; arrays keep their order.
 * Otherwise JSON.stringify semantics: toJSON is honoured, undefined/function/symbol members are
 * dropped from objects and become null in arrays, non-finite numbers become null. BigInt, cyclic
 * values and values nested deeper than MAX_CANONICAL_DEPTH throw a TypeError, as does a top-level
 * value JSON cannot represent. (Input is depth-checked long before: lib/json-depth.ts.)
 */
export function canonicalize(value: unknown): string {
  const out = serialize(value, new Set(), 0);
  if (out === undefined) throw new TypeError("canonicalize: value has no JSON representation");
  return out;
}

/** Deeper values are refused (a TypeError, like a cycle) instead of overflowing the stack. */
export const MAX_CANONICAL_DEPTH = 64;

function serialize(value: unknown, stack: Set<object>, depth: number): string | undefined {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "bigint":
      throw new TypeError("canonicalize: BigInt has no JSON representation");
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return "null";
  const obj = value as object;
  if (stack.has(obj)) throw new TypeError("canonicalize: cyclic value");
  if (depth >= MAX_CANONICAL_DEPTH) throw new TypeError(`canonicalize: value nested deeper than ${MAX_CANONICAL_DEPTH} levels`);
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((v) => serialize(v, stack, depth + 1) ?? "null").join(",")}]`;
    }
    const record = obj as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const v = serialize(record[key], stack, depth + 1);
      if (v !== undefined) members.push(`${JSON.stringify(key)}:${v}`);
    }
    return `{${members.join(",")}}`;
  } finally {
    stack.delete(obj);
  }
}

/**
 * The fingerprint pepper.
 *  - `override` (the FINGERPRINT_PEPPER setting, passed in by the caller): base64 of ≥ 16 bytes.
 *    An empty string counts as not set, matching how env.ts treats empty variables.
 *  - otherwise `<dataDir>/fingerprint-pepper`: 32 random bytes in base64, created on first use
 *    with mode 0600 (dir 0700) and reused after that; looser permissions are tightened on load.
 * Errors are CipherError("misconfigured") and never quote the pepper.
 */
export function loadOrCreatePepper(dataDir: string, override?: string): Buffer {
  return loadOrCreateServerSecret(
    { what: "fingerprint pepper", setting: "FINGERPRINT_PEPPER", file: PEPPER_FILE, createBytes: PEPPER_BYTES, minBytes: MIN_PEPPER_BYTES },
    dataDir,
    override,
  );
}
