import { crc32c as awsCrc32c } from "@aws-crypto/crc32c";

/**
 * CRC32C (Castagnoli), the checksum Cloud KMS uses for its `*Crc32c` integrity fields.
 * Not `zlib.crc32`: that is CRC-32/IEEE, a different polynomial (and Node 22+ only).
 * Check value: crc32c("123456789") === 0xE3069283. Always an unsigned 32-bit integer.
 *
 * No `server-only` marker: the test fake for KMS uses it too, and it holds nothing secret.
 */
export function crc32c(buf: Uint8Array): number {
  return awsCrc32c(buf) >>> 0;
}

/**
 * Reads a protobuf Int64Value-style checksum as a number. gRPC (google-gax loads protos with
 * `longs: String`) delivers int64 as a decimal string; REST/JSON may deliver a number.
 * Returns null when the wrapper is absent or the value is not a valid uint32.
 */
export function readCrc32c(field: { value?: unknown } | null | undefined): number | null {
  if (field === null || field === undefined || typeof field !== "object") return null;
  const v = field.value;
  let n: number;
  if (typeof v === "string") {
    if (!/^\d{1,10}$/.test(v)) return null;
    n = Number(v);
  } else if (typeof v === "number") {
    n = v;
  } else if (v !== null && typeof v === "object" && typeof (v as { toString?: unknown }).toString === "function") {
    // Long (protobufjs without `longs: String`).
    const s = String(v);
    if (!/^\d{1,10}$/.test(s)) return null;
    n = Number(s);
  } else {
    return null;
  }
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : null;
}
