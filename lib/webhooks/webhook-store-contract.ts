import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeliveryRecord, WebhookEndpointRecord, WebhookStore } from "./webhook-store";

export interface WebhookStoreFixture {
  store: WebhookStore;
  dispose(): Promise<void>;
}

const T0 = Date.parse("2030-01-02T03:04:05.678Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function endpoint(id: string, org: string, createdMs = 0, createdBy: string | null = null): WebhookEndpointRecord {
  return {
    id,
    org,
    url: `https://hooks.example.com/${id}`,
    events: ["integration.created", "integration.status_changed"],
    secretCiphertext: Buffer.from([1, 2, 3, 0, 255]),
    secretKeyRef: "local",
    secretKeyVersion: "k1",
    createdAt: at(createdMs),
    createdBy,
  };
}

function delivery(id: string, endpointId: string, org: string, dueMs: number) {
  return { id, endpointId, org, event: "integration.created" as const, provider: "openai", payload: `{"n":"${id}"}`, createdAt: at(dueMs), nextAttemptAt: at(dueMs) };
}

/** What every WebhookStore must do: run by webhook-store.test.ts (SQLite) and webhook-store-postgres.test.ts. */
export function describeWebhookStoreContract(name: string, make: () => Promise<WebhookStoreFixture>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let fx: WebhookStoreFixture;
    let store: WebhookStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await store.close();
      await fx.dispose();
    });

    it("keeps endpoints per org, oldest first, with the sealed secret byte for byte", async () => {
      await store.createEndpoint(endpoint("wh_00000000000000a2", "acme", 2));
      await store.createEndpoint(endpoint("wh_00000000000000a1", "acme", 1));
      await store.createEndpoint(endpoint("wh_00000000000000b1", "beta", 0));
      expect((await store.listEndpoints("acme")).map((e) => e.id)).toEqual(["wh_00000000000000a1", "wh_00000000000000a2"]);
      expect(await store.countEndpoints("acme")).toBe(2);
      expect(await store.getEndpoint("acme", "wh_00000000000000a1")).toEqual(endpoint("wh_00000000000000a1", "acme", 1));
      // Another org's id is not found through this org.
      expect(await store.getEndpoint("acme", "wh_00000000000000b1")).toBeNull();
      expect(await store.deleteEndpoint("acme", "wh_00000000000000b1")).toBe(false);
      expect(await store.deleteEndpoint("beta", "wh_00000000000000b1")).toBe(true);
      expect(await store.deleteEndpoint("beta", "wh_00000000000000b1")).toBe(false);
    });

    it("records who added an endpoint; deletes one member's endpoints in one org only, with their queues", async () => {
      await store.createEndpoint(endpoint("wh_00000000000000a2", "acme", 2, "user-1"));
      await store.createEndpoint(endpoint("wh_00000000000000a1", "acme", 1, "user-1"));
      await store.createEndpoint(endpoint("wh_00000000000000a3", "acme", 3, "user-2"));
      await store.createEndpoint(endpoint("wh_00000000000000a4", "acme", 4)); // the CLI's
      await store.createEndpoint(endpoint("wh_00000000000000b1", "beta", 0, "user-1"));
      expect(await store.getEndpoint("acme", "wh_00000000000000a1")).toEqual(endpoint("wh_00000000000000a1", "acme", 1, "user-1"));
      await store.enqueue([delivery("msg_1", "wh_00000000000000a1", "acme", 0), delivery("msg_3", "wh_00000000000000a3", "acme", 0)]);
      expect(await store.deleteEndpointsCreatedBy("acme", "user-1")).toEqual([
        { id: "wh_00000000000000a1", url: "https://hooks.example.com/wh_00000000000000a1" },
        { id: "wh_00000000000000a2", url: "https://hooks.example.com/wh_00000000000000a2" },
      ]);
      expect((await store.listEndpoints("acme")).map((e) => [e.id, e.createdBy])).toEqual([
        ["wh_00000000000000a3", "user-2"],
        ["wh_00000000000000a4", null],
      ]);
      expect(await store.getEndpoint("beta", "wh_00000000000000b1")).not.toBeNull();
      expect((await store.claimDue(at(1000), at(2000), 10)).map((d) => d.id)).toEqual(["msg_3"]);
      expect(await store.deleteEndpointsCreatedBy("acme", "user-1")).toEqual([]);
    });

    it("claims due deliveries once, oldest first, under a lease; records attempts; frees them when the lease ends", async () => {
      await store.createEndpoint(endpoint("wh_00000000000000a1", "acme"));
      await store.enqueue([delivery("msg_2", "wh_00000000000000a1", "acme", 2000), delivery("msg_1", "wh_00000000000000a1", "acme", 1000), delivery("msg_3", "wh_00000000000000a1", "acme", 60_000)]);
      const first = await store.claimDue(at(5000), at(65_000), 10);
      expect(first.map((d) => d.id)).toEqual(["msg_1", "msg_2"]);
      expect(first[0]).toMatchObject<Partial<DeliveryRecord>>({ status: "pending", attempts: 0, payload: '{"n":"msg_1"}', provider: "openai", event: "integration.created" });
      // Leased: a second worker gets nothing until the lease ends.
      expect(await store.claimDue(at(6000), at(66_000), 10)).toEqual([]);
      await store.recordAttempt("msg_1", { status: "delivered", responseCode: 204, error: null, at: at(7000), nextAttemptAt: null });
      await store.recordAttempt("msg_2", { status: "pending", responseCode: 500, error: "the receiver answered HTTP 500", at: at(7000), nextAttemptAt: at(40_000) });
      expect((await store.claimDue(at(39_000), at(99_000), 10)).map((d) => d.id)).toEqual([]);
      const retry = await store.claimDue(at(61_000), at(121_000), 10);
      expect(retry.map((d) => d.id)).toEqual(["msg_2", "msg_3"]);
      expect(retry[0]).toMatchObject({ attempts: 1, lastResponseCode: 500, lastError: "the receiver answered HTTP 500", lastAttemptAt: at(7000) });
      // msg_3 was claimed and never recorded (a crashed worker): claimable again after its lease.
      expect(await store.claimDue(at(120_000), at(180_000), 10)).toEqual([]);
      expect((await store.claimDue(at(121_000), at(181_000), 10)).map((d) => d.id)).toEqual(["msg_2", "msg_3"]);
      const log = await store.listDeliveries("acme", "wh_00000000000000a1", 10);
      expect(log.map((d) => d.id)).toEqual(["msg_3", "msg_2", "msg_1"]);
      expect(log[2]).toMatchObject({ status: "delivered", attempts: 1, lastResponseCode: 204, deliveredAt: at(7000), nextAttemptAt: null });
      expect(await store.listDeliveries("beta", "wh_00000000000000a1", 10)).toEqual([]);
    });

    it("never claims failed or delivered rows; prunes finished ones; deleting an endpoint drops its queue", async () => {
      await store.createEndpoint(endpoint("wh_00000000000000a1", "acme"));
      await store.enqueue([delivery("msg_1", "wh_00000000000000a1", "acme", 0), delivery("msg_2", "wh_00000000000000a1", "acme", 0), delivery("msg_3", "wh_00000000000000a1", "acme", 0)]);
      await store.claimDue(at(0), at(1000), 10);
      await store.recordAttempt("msg_1", { status: "failed", responseCode: 410, error: "gone", at: at(10), nextAttemptAt: null });
      await store.recordAttempt("msg_2", { status: "delivered", responseCode: 200, error: null, at: at(10), nextAttemptAt: null });
      await store.recordAttempt("msg_3", { status: "pending", responseCode: null, error: "x", at: at(10), nextAttemptAt: at(20) });
      expect((await store.claimDue(at(10_000), at(20_000), 10)).map((d) => d.id)).toEqual(["msg_3"]);
      expect(await store.pruneFinished(at(1))).toBe(2);
      expect((await store.listDeliveries("acme", "wh_00000000000000a1", 10)).map((d) => d.id)).toEqual(["msg_3"]);
      await store.deleteEndpoint("acme", "wh_00000000000000a1");
      expect(await store.claimDue(at(99_000_000), at(99_100_000), 10)).toEqual([]);
    });

    it("two concurrent claimers never get the same delivery", async () => {
      await store.createEndpoint(endpoint("wh_00000000000000a1", "acme"));
      await store.enqueue(Array.from({ length: 30 }, (_, i) => delivery(`msg_${String(i).padStart(2, "0")}`, "wh_00000000000000a1", "acme", i)));
      const [a, b] = await Promise.all([store.claimDue(at(100), at(60_000), 20), store.claimDue(at(100), at(60_000), 20)]);
      const ids = [...a, ...b].map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(30);
    });
  });
}
