import crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditStore } from "./audit-store";
import { GENESIS_HASH, headMac } from "./chain";
import type { AuditEvent } from "./events";
import { verifyOrgChain } from "./verify-audit-chain";

/**
 * A fresh, empty store, its key, and the attacker's hands: `raw(sql, params)` runs SQL directly
 * on the database (placeholders `?`), the way someone with database access would, to prove the
 * chain catches what the store itself would refuse to do.
 */
export interface AuditStoreFixture {
  store: AuditStore;
  key: Buffer;
  raw(sql: string, params?: unknown[]): Promise<void>;
  /** A second store on the same database (another process / instance). */
  another(): AuditStore;
  dispose(): Promise<void>;
}

const T0 = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

export function sampleEvent(org: string, n: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: crypto.randomUUID(),
    at: new Date(T0 + n * 1000).toISOString(),
    org,
    actor: n % 2 ? { type: "user", id: `u${n}`, email: `u${n}@example.com` } : { type: "api_key", id: "0123456789ab" },
    action: n % 3 ? "integration.setup" : "integration.validate",
    provider: n % 3 ? "openai" : "aws_iam",
    fingerprint_before: n % 2 ? null : "0a1b2c3d",
    fingerprint_after: "1a2b3c4d",
    outcome: "ok",
    request_id: `req-${n}`,
    client_ip: n % 2 ? "198.51.100.7" : null,
    target: null,
    ...over,
  };
}

/** What every AuditStore must do: run by audit-store.test.ts (SQLite) and audit-store-postgres.test.ts (Postgres). */
export function describeAuditStoreContract(name: string, make: () => Promise<AuditStoreFixture>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let fx: AuditStoreFixture;
    let store: AuditStore;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await store.close();
      await fx.dispose();
    });

    const strip = ({ seq: _s, prev_hash: _p, hash: _h, ...e }: { seq: number; prev_hash: string; hash: string } & AuditEvent) => e;

    it("appends events with a per-org sequence and hash chain, and reads them back exactly", async () => {
      const a1 = await store.append(sampleEvent("acme", 1));
      const b1 = await store.append(sampleEvent("beta", 2));
      const a2 = await store.append(sampleEvent("acme", 3));
      expect([a1.seq, b1.seq, a2.seq]).toEqual([1, 1, 2]);
      expect(a1.prev_hash).toBe(GENESIS_HASH);
      expect(a2.prev_hash).toBe(a1.hash);
      expect(a1.hash).toMatch(/^[0-9a-f]{64}$/);
      const listed = await store.list("acme", { limit: 10 });
      expect(listed).toEqual([a2, a1]); // newest first, every field as written
      expect(strip(listed[1]!)).toEqual(sampleEvent("acme", 1, { id: a1.id }));
      const head = await store.getHead("acme");
      expect(head).toMatchObject({ org: "acme", lastSeq: 2, lastHash: a2.hash, prunedSeq: 0 });
      expect(head!.mac).toBe(headMac(fx.key, head!));
      expect(await store.listChainOrgs()).toEqual(["acme", "beta"]);
      expect(await store.getHead("nobody")).toBeNull();
    });

    it("pages newest first by seq and filters by provider and action", async () => {
      for (let n = 1; n <= 7; n++) await store.append(sampleEvent("acme", n));
      const p1 = await store.list("acme", { limit: 3 });
      expect(p1.map((e) => e.seq)).toEqual([7, 6, 5]);
      const p2 = await store.list("acme", { limit: 3, beforeSeq: 5 });
      expect(p2.map((e) => e.seq)).toEqual([4, 3, 2]);
      expect((await store.list("acme", { limit: 10, provider: "aws_iam" })).map((e) => e.seq)).toEqual([6, 3]);
      expect((await store.list("acme", { limit: 10, action: "integration.setup", provider: "openai" })).map((e) => e.seq)).toEqual([7, 5, 4, 2, 1]);
      expect(await store.list("other", { limit: 10 })).toEqual([]);
    });

    it("serializes concurrent appends for one org, from two stores on one database, into one unforked chain", async () => {
      const other = fx.another();
      try {
        const writes = [];
        for (let n = 0; n < 40; n++) writes.push((n % 2 ? store : other).append(sampleEvent("acme", n)));
        const done = await Promise.all(writes);
        expect(new Set(done.map((e) => e.seq)).size).toBe(40);
        const report = await verifyOrgChain(store, fx.key, "acme");
        expect(report).toEqual({ org: "acme", ok: true, events: 40, first_broken: null });
      } finally {
        await other.close();
      }
    });

    it("appendMany chains a batch of one org in order, interleaves with single appends from another store, and refuses a mixed batch", async () => {
      const other = fx.another();
      try {
        const first = await store.append(sampleEvent("acme", 1));
        const batch = await store.appendMany([2, 3, 4].map((n) => sampleEvent("acme", n)));
        expect(batch.map((e) => e.seq)).toEqual([2, 3, 4]);
        expect(batch[0]!.prev_hash).toBe(first.hash);
        expect(batch[2]!.prev_hash).toBe(batch[1]!.hash);
        expect(await store.list("acme", { limit: 10 })).toEqual([...batch].reverse().concat(first));
        expect(await store.getHead("acme")).toMatchObject({ lastSeq: 4, lastHash: batch[2]!.hash });
        expect(await store.appendMany([])).toEqual([]);
        await expect(store.appendMany([sampleEvent("acme", 5), sampleEvent("beta", 6)])).rejects.toThrow(/one org/);

        const writes: Array<Promise<unknown>> = [];
        for (let n = 0; n < 10; n++) {
          writes.push(other.append(sampleEvent("acme", 10 + n)));
          writes.push(store.appendMany(Array.from({ length: 5 }, (_, i) => sampleEvent("acme", 100 + n * 5 + i))));
        }
        await Promise.all(writes);
        expect(await verifyOrgChain(store, fx.key, "acme")).toEqual({ org: "acme", ok: true, events: 64, first_broken: null });
        // A batch larger than one INSERT statement takes (Postgres: 1,000 rows each).
        await store.appendMany(Array.from({ length: 1200 }, (_, i) => sampleEvent("big", i)));
        expect(await verifyOrgChain(store, fx.key, "big")).toMatchObject({ ok: true, events: 1200 });
      } finally {
        await other.close();
      }
    });

    it("is append-only: the database refuses UPDATE and DELETE of an event", async () => {
      const e = await store.append(sampleEvent("acme", 1));
      await expect(fx.raw("UPDATE audit_events SET outcome = ? WHERE id = ?", ["forbidden", e.id])).rejects.toThrow(/append-only/);
      await expect(fx.raw("DELETE FROM audit_events WHERE id = ?", [e.id])).rejects.toThrow(/append-only/);
      expect(await store.list("acme", { limit: 10 })).toEqual([e]);
    });

    it("prunes events before the cutoff per org, moves the head's retention point, and the chain still verifies", async () => {
      for (let n = 1; n <= 6; n++) await store.append(sampleEvent("acme", n));
      await store.append(sampleEvent("beta", 1));
      const kept = await store.list("acme", { limit: 10 });
      // Cut between event 3 (T0+3s) and event 4 (T0+4s); beta's only event (T0+1s) goes too.
      expect(await store.prune(new Date(T0 + 3500))).toBe(4);
      expect((await store.list("acme", { limit: 10 })).map((e) => e.seq)).toEqual([6, 5, 4]);
      expect(await store.getHead("acme")).toMatchObject({ lastSeq: 6, prunedSeq: 3, prunedHash: kept.find((e) => e.seq === 3)!.hash });
      expect(await verifyOrgChain(store, fx.key, "acme")).toMatchObject({ ok: true, events: 3 });
      expect(await verifyOrgChain(store, fx.key, "beta")).toMatchObject({ ok: true, events: 0 });
      // Appending after a prune continues the chain; pruning again with nothing old is a no-op.
      const next = await store.append(sampleEvent("acme", 7));
      expect(next.seq).toBe(7);
      expect(await store.prune(new Date(T0 + 3500))).toBe(0);
      expect(await verifyOrgChain(store, fx.key, "acme")).toMatchObject({ ok: true, events: 4 });
    });

    it("verify names the first event whose row was edited", async () => {
      const es = [];
      for (let n = 1; n <= 5; n++) es.push(await store.append(sampleEvent("acme", n)));
      await fx.raw("DROP TRIGGER IF EXISTS audit_events_no_update" + (store.backend === "postgres" ? " ON audit_events" : ""));
      await fx.raw("DROP TRIGGER IF EXISTS audit_events_append_only" + (store.backend === "postgres" ? " ON audit_events" : ""));
      await fx.raw("UPDATE audit_events SET fingerprint_after = ? WHERE id = ?", ["deadbeef", es[2]!.id]);
      const r = await verifyOrgChain(store, fx.key, "acme");
      expect(r).toMatchObject({ org: "acme", ok: false, events: 2, first_broken: { event_id: es[2]!.id, seq: 3 } });
      expect(r.first_broken!.reason).toMatch(/altered/);
    });

    it("verify names the event after a removed one, and catches removed newest events and an edited head", async () => {
      const es = [];
      for (let n = 1; n <= 5; n++) es.push(await store.append(sampleEvent("acme", n)));
      await fx.raw("DROP TRIGGER IF EXISTS audit_events_no_delete" + (store.backend === "postgres" ? " ON audit_events" : ""));
      await fx.raw("DROP TRIGGER IF EXISTS audit_events_append_only" + (store.backend === "postgres" ? " ON audit_events" : ""));
      await fx.raw("DELETE FROM audit_events WHERE id = ?", [es[1]!.id]);
      const r = await verifyOrgChain(store, fx.key, "acme");
      expect(r).toMatchObject({ ok: false, events: 1, first_broken: { event_id: es[2]!.id, seq: 3 } });
      expect(r.first_broken!.reason).toMatch(/event 2 is missing/);

      // The newest event removed: nothing after it to notice, but the head remembers.
      for (let n = 1; n <= 3; n++) await store.append(sampleEvent("beta", n));
      const newest = (await store.list("beta", { limit: 1 }))[0]!;
      await fx.raw("DELETE FROM audit_events WHERE id = ?", [newest.id]);
      const t = await verifyOrgChain(store, fx.key, "beta");
      expect(t).toMatchObject({ ok: false, first_broken: { seq: 3 } });
      expect(t.first_broken!.reason).toMatch(/newest event was removed/);

      // ... and rewinding the head to match needs the key.
      await fx.raw("UPDATE audit_chain_heads SET last_seq = ?, last_hash = ? WHERE org = ?", [2, (await store.list("beta", { limit: 1 }))[0]!.hash, "beta"]);
      const h = await verifyOrgChain(store, fx.key, "beta");
      expect(h.first_broken!.reason).toMatch(/head row was altered/);

      // Deleting the oldest events and pretending retention did it: the head's retention point disagrees.
      for (let n = 1; n <= 3; n++) await store.append(sampleEvent("gamma", n));
      const oldest = (await store.list("gamma", { limit: 10 })).at(-1)!;
      await fx.raw("DELETE FROM audit_events WHERE id = ?", [oldest.id]);
      expect((await verifyOrgChain(store, fx.key, "gamma")).first_broken).toMatchObject({ seq: 2, reason: expect.stringMatching(/event 1 is missing/) });
    });

    it("an org whose head row was deleted refuses further appends, and verify names it", async () => {
      const first = await store.append(sampleEvent("acme", 1));
      await fx.raw("DELETE FROM audit_chain_heads WHERE org = ?", ["acme"]);
      await expect(store.append(sampleEvent("acme", 2))).rejects.toThrow();
      expect(await store.list("acme", { limit: 10 })).toEqual([first]);
      const r = await verifyOrgChain(store, fx.key, "acme");
      expect(r).toMatchObject({ ok: false, first_broken: { event_id: first.id, reason: expect.stringMatching(/head row is missing/) } });
      // Other orgs are unaffected.
      expect((await store.append(sampleEvent("beta", 1))).seq).toBe(1);
    });

    it("a chain checked with another key does not verify", async () => {
      await store.append(sampleEvent("acme", 1));
      const r = await verifyOrgChain(store, crypto.randomBytes(32), "acme");
      expect(r.ok).toBe(false);
    });

    it("answers ping while open, and rejects calls once closed", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      const s2 = fx.another();
      await s2.close();
      await expect(s2.ping()).rejects.toThrow();
    });
  });
}
