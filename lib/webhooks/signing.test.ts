import { describe, expect, it } from "vitest";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { newMessageId, newWebhookSecret, signWebhook } from "./signing";

/** Our signatures, checked by the Standard Webhooks reference library (what receivers use). */
describe("Standard Webhooks signing", () => {
  const body = JSON.stringify({ type: "integration.created", timestamp: "2026-01-01T00:00:00.000Z", data: { org: "acme", fingerprint: "3f9a0c1e" } });

  it("makes whsec_ secrets of 32 random bytes, each different", () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it("signs id.timestamp.body so that the reference verifier accepts it", () => {
    const secret = newWebhookSecret();
    const id = newMessageId();
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secret, id, now, body);
    expect(headers["webhook-id"]).toBe(id);
    expect(headers["webhook-timestamp"]).toBe(String(now));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    // The reference signer produces the very same signature.
    expect(new Webhook(secret).sign(id, new Date(now * 1000), body)).toBe(headers["webhook-signature"]);
  });

  it("is refused by the verifier for another secret, a changed body, another id or an old timestamp", () => {
    const secret = newWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secret, "msg_1", now, body);
    const wh = new Webhook(secret);
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(WebhookVerificationError);
    expect(() => wh.verify(body.replace("acme", "evil"), headers)).toThrow(WebhookVerificationError);
    expect(() => wh.verify(body, { ...headers, "webhook-id": "msg_2" })).toThrow(WebhookVerificationError);
    const old = signWebhook(secret, "msg_1", now - 3600, body);
    expect(() => wh.verify(body, old)).toThrow(WebhookVerificationError); // replay protection: 5-minute tolerance
  });
});
