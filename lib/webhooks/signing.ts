import "server-only";
import crypto from "node:crypto";

/**
 * Standard Webhooks signing (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
 * - the secret is `whsec_` + base64 of random bytes ("Signature scheme": 24–64 bytes; we use 32);
 * - the signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the timestamp in integer
 *   seconds since the epoch;
 * - `webhook-signature` is `v1,` + base64(HMAC-SHA256(base64-decoded secret, signed content)),
 *   space-separated when several signatures are sent (we send one).
 * tests verify what this produces with the spec's reference library (`standardwebhooks`).
 */

const SECRET_PREFIX = "whsec_";

/** A new endpoint signing secret, in the form receivers paste into their verifier. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + crypto.randomBytes(32).toString("base64");
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("A webhook secret starts with whsec_.");
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  if (key.length < 24) throw new Error("A webhook secret holds at least 24 bytes.");
  return key;
}

/** A message id: stable across the retries of one event's delivery to one endpoint (receivers dedupe on it). */
export function newMessageId(): string {
  return `msg_${crypto.randomBytes(16).toString("base64url")}`;
}

/** The three Standard Webhooks headers for one attempt (the timestamp is the attempt's, in seconds). */
export function signWebhook(secret: string, msgId: string, timestampS: number, body: string): Record<string, string> {
  const ts = String(Math.floor(timestampS));
  const sig = crypto.createHmac("sha256", secretKey(secret)).update(`${msgId}.${ts}.${body}`, "utf8").digest("base64");
  return { "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": `v1,${sig}` };
}
