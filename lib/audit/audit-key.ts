import "server-only";
import { loadOrCreateServerSecret } from "../kms/server-secret";

export const AUDIT_KEY_FILE = "audit-hmac-key";
const MIN_KEY_BYTES = 32;

/**
 * The audit chain's HMAC key, like the fingerprint pepper: AUDIT_HMAC_KEY (base64 of ≥ 32 bytes)
 * when set, else `<dataDir>/audit-hmac-key`, 32 random bytes created on first use (0600, no-clobber
 * so two processes starting together agree). Every instance writing one database must share it.
 * Errors never quote the key.
 */
export function loadOrCreateAuditKey(dataDir: string, override?: string): Buffer {
  return loadOrCreateServerSecret(
    { what: "audit key", setting: "AUDIT_HMAC_KEY", file: AUDIT_KEY_FILE, createBytes: MIN_KEY_BYTES, minBytes: MIN_KEY_BYTES },
    dataDir,
    override,
  );
}
