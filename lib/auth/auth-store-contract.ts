import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuthStore } from "./auth-store";

/** A fresh, empty store, and how to throw it away (after the contract has closed it). */
export interface AuthStoreFixture {
  store: AuthStore;
  dispose(): Promise<void>;
}

const T0 = new Date("2030-01-02T03:04:05.678Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

/**
 * What every AuthStore must do, whatever holds the rows: run by auth-store.test.ts (SQLite) and
 * auth-store-postgres.test.ts (Postgres, when AUTH_TEST_DATABASE_URL is set).
 */
export function describeAuthStoreContract(name: string, make: () => Promise<AuthStoreFixture>): void {
  describe(`AuthStore contract: ${name}`, () => {
    let fx: AuthStoreFixture;
    let store: AuthStore;
    let disposed = false;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
      disposed = false;
    });
    afterEach(async () => {
      if (disposed) return;
      await store.close();
      await fx.dispose();
    });

    it("creates an org with a stable random external id, unique per org, and reads it back", async () => {
      const acme = await store.createOrg("acme", "Acme Inc.", T0);
      expect(acme).toEqual({ slug: "acme", name: "Acme Inc.", externalId: expect.stringMatching(/^cm-[A-Za-z0-9_-]{24}$/), createdAt: T0.toISOString() });
      expect(await store.getOrg("acme")).toEqual(acme);
      expect(await store.getOrg("acme")).toEqual(acme); // stable: reading does not change it
      const beta = await store.createOrg("beta", "Beta", T0);
      expect(beta!.externalId).not.toBe(acme!.externalId);
      expect(await store.getOrg("nobody")).toBeNull();
    });

    it("refuses a taken slug with null and leaves the first org untouched", async () => {
      const first = await store.createOrg("acme", "First", T0);
      expect(await store.createOrg("acme", "Second", at(1000))).toBeNull();
      expect(await store.getOrg("acme")).toEqual(first);
    });

    it("createOrgLimited: at most `max` orgs per creator, counted atomically (20 at once), the CLI's and others' not counted", async () => {
      await store.createOrg("from-cli", "CLI", T0); // no creator: counts for nobody
      expect(await store.createOrgLimited("from-cli", "Again", T0, { userId: "u1", max: 10 })).toBe("taken");
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.createOrgLimited(`u1-${String(i).padStart(2, "0")}`, `U1 ${i}`, at(i), { userId: "u1", max: 10 })));
      const made = results.filter((r) => typeof r === "object");
      expect(made).toHaveLength(10);
      expect(results.filter((r) => r === "limit")).toHaveLength(10);
      expect((await store.listOrgs()).filter((o) => o.slug.startsWith("u1-"))).toHaveLength(10);
      expect(made[0]).toEqual({ slug: expect.stringMatching(/^u1-/), name: expect.stringMatching(/^U1 /), externalId: expect.stringMatching(/^cm-/), createdAt: expect.any(String) });
      // Another account has its own count; a deleted org frees its creator's place.
      expect(await store.createOrgLimited("u2-a", "U2", T0, { userId: "u2", max: 10 })).toMatchObject({ slug: "u2-a" });
      expect(await store.createOrgLimited("u1-late", "Late", T0, { userId: "u1", max: 10 })).toBe("limit");
      expect(await store.deleteOrg((made[0] as { slug: string }).slug)).toBe(true);
      expect(await store.createOrgLimited("u1-late", "Late", T0, { userId: "u1", max: 10 })).toMatchObject({ slug: "u1-late" });
      expect(await store.createOrgLimited("u1-later", "Later", T0, { userId: "u1", max: 10 })).toBe("limit");
    });

    it("lists orgs by slug in byte order", async () => {
      for (const slug of ["b-x", "ab", "a_b", "a-c", "a0"]) await store.createOrg(slug, slug.toUpperCase(), T0);
      // '-' < digits < '_' < letters, as SQLite compares; a linguistic collation would not.
      expect((await store.listOrgs()).map((o) => o.slug)).toEqual(["a-c", "a0", "a_b", "ab", "b-x"]);
    });

    it("creates a key that verifies to its org and role; the key is shown once and only its record is kept", async () => {
      await store.createOrg("acme", "Acme", T0);
      const { record, apiKey } = await store.createApiKey("acme", "viewer", "ci", T0);
      expect(apiKey).toMatch(/^cmk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      expect(apiKey.slice(4, 16)).toBe(record.id);
      expect(record).toEqual({ id: record.id, org: "acme", role: "viewer", label: "ci", createdAt: T0.toISOString(), lastUsedAt: null, revokedAt: null, createdBy: null });
      expect(JSON.stringify(record)).not.toContain(apiKey.slice(17));
      expect(await store.getApiKey("acme", record.id)).toEqual(record);
      expect(await store.verifyApiKey(apiKey, at(1000))).toEqual({ org: "acme", role: "viewer", keyId: record.id });

      const admin = await store.createApiKey("acme", "admin", null, T0);
      expect(admin.record).toMatchObject({ role: "admin", label: null });
      expect(await store.verifyApiKey(admin.apiKey, at(1000))).toEqual({ org: "acme", role: "admin", keyId: admin.record.id });
    });

    it("refuses a key for an org that does not exist", async () => {
      await expect(store.createApiKey("nobody", "admin", null, T0)).rejects.toThrow();
    });

    it("verifies nothing that is wrong, malformed, unknown or revoked", async () => {
      await store.createOrg("acme", "Acme", T0);
      const { record, apiKey } = await store.createApiKey("acme", "admin", null, T0);
      const id = record.id;
      const secret = apiKey.slice(17);
      const otherSecret = (secret[0] === "A" ? "B" : "A") + secret.slice(1);
      const unknownId = (id[0] === "0" ? "1" : "0") + id.slice(1);
      for (const bad of [
        `cmk_${id}_${otherSecret}`, // wrong secret
        `cmk_${unknownId}_${secret}`, // unknown id
        apiKey.slice(0, -1), // malformed: short
        `${apiKey}x`, // malformed: long
        apiKey.toUpperCase(), // malformed: id not lower-case hex
        `cmk_${id}_${secret.slice(0, -1)}!`, // malformed: not base64url
        "",
        "Bearer " + apiKey,
      ]) {
        expect(await store.verifyApiKey(bad, at(1000)), bad).toBeNull();
      }
      expect(await store.verifyApiKey(apiKey, at(1000))).not.toBeNull();
      expect(await store.revokeApiKey("acme", id, at(2000))).toBe(true);
      expect(await store.verifyApiKey(apiKey, at(3000))).toBeNull();
    });

    it("revokes once: a second revoke, another org's key or an unknown id is false", async () => {
      await store.createOrg("acme", "Acme", T0);
      await store.createOrg("beta", "Beta", T0);
      const { record } = await store.createApiKey("acme", "admin", null, T0);
      expect(await store.revokeApiKey("beta", record.id, at(1000))).toBe(false);
      expect(await store.revokeApiKey("acme", "000000000000", at(1000))).toBe(false);
      expect(await store.revokeApiKey("acme", record.id, at(1000))).toBe(true);
      expect(await store.revokeApiKey("acme", record.id, at(2000))).toBe(false);
      expect(await store.getApiKey("acme", record.id)).toMatchObject({ revokedAt: at(1000).toISOString() });
    });

    it("records the last use at most once a minute", async () => {
      await store.createOrg("acme", "Acme", T0);
      const { record, apiKey } = await store.createApiKey("acme", "admin", null, T0);
      const lastUsed = async () => (await store.getApiKey("acme", record.id))!.lastUsedAt;
      await store.verifyApiKey(apiKey, at(1_000));
      expect(await lastUsed()).toBe(at(1_000).toISOString());
      await store.verifyApiKey(apiKey, at(30_000));
      await store.verifyApiKey(apiKey, at(61_000)); // exactly a minute later: still not
      expect(await lastUsed()).toBe(at(1_000).toISOString());
      await store.verifyApiKey(apiKey, at(61_001));
      expect(await lastUsed()).toBe(at(61_001).toISOString());
      // A failed verification is not a use.
      await store.verifyApiKey(`${apiKey.slice(0, 17)}${"A".repeat(43)}`, at(500_000));
      expect(await lastUsed()).toBe(at(61_001).toISOString());
    });

    it("lists an org's keys, revoked ones included, oldest first, and nobody else's", async () => {
      await store.createOrg("acme", "Acme", T0);
      await store.createOrg("beta", "Beta", T0);
      const a = await store.createApiKey("acme", "admin", "first", at(1000));
      const b = await store.createApiKey("acme", "viewer", "second", at(2000));
      await store.createApiKey("beta", "admin", "theirs", at(1500));
      await store.revokeApiKey("acme", a.record.id, at(3000));
      expect(await store.listApiKeys("acme")).toEqual([{ ...a.record, revokedAt: at(3000).toISOString() }, b.record]);
      expect(await store.listApiKeys("nobody")).toEqual([]);
      expect(await store.getApiKey("beta", a.record.id)).toBeNull();
    });

    it("records who created a key, and revokes exactly that member's active keys in that org", async () => {
      await store.createOrg("acme", "Acme", T0);
      await store.createOrg("beta", "Beta", T0);
      const mine1 = await store.createApiKey("acme", "admin", "mine 1", T0, "user-ada");
      const mine2 = await store.createApiKey("acme", "viewer", "mine 2", at(1), "user-ada");
      const already = await store.createApiKey("acme", "viewer", "revoked before", at(2), "user-ada");
      const theirs = await store.createApiKey("acme", "admin", "theirs", at(3), "user-bob");
      const cli = await store.createApiKey("acme", "admin", "cli", at(4));
      const otherOrg = await store.createApiKey("beta", "admin", "beta", at(5), "user-ada");
      expect(mine1.record.createdBy).toBe("user-ada");
      expect(cli.record.createdBy).toBeNull();
      expect(await store.getApiKey("acme", theirs.record.id)).toMatchObject({ createdBy: "user-bob" });
      await store.revokeApiKey("acme", already.record.id, at(10));

      expect(await store.revokeApiKeysCreatedBy("acme", "user-ada", at(20))).toEqual([mine1.record.id, mine2.record.id].sort());
      expect(await store.verifyApiKey(mine1.apiKey, at(30))).toBeNull();
      expect(await store.verifyApiKey(mine2.apiKey, at(30))).toBeNull();
      expect(await store.getApiKey("acme", already.record.id)).toMatchObject({ revokedAt: at(10).toISOString() }); // untouched
      expect(await store.verifyApiKey(theirs.apiKey, at(30))).toMatchObject({ org: "acme" });
      expect(await store.verifyApiKey(cli.apiKey, at(30))).toMatchObject({ org: "acme" });
      expect(await store.verifyApiKey(otherOrg.apiKey, at(30))).toMatchObject({ org: "beta" });
      expect(await store.revokeApiKeysCreatedBy("acme", "user-ada", at(40))).toEqual([]);
    });

    it("deletes an org with its keys (cascade), and says false for one that is not there", async () => {
      await store.createOrg("acme", "Acme", T0);
      await store.createOrg("beta", "Beta", T0);
      const { record, apiKey } = await store.createApiKey("acme", "admin", null, T0);
      const kept = await store.createApiKey("beta", "admin", null, T0);
      expect(await store.deleteOrg("acme")).toBe(true);
      expect(await store.deleteOrg("acme")).toBe(false);
      expect(await store.getOrg("acme")).toBeNull();
      expect(await store.listApiKeys("acme")).toEqual([]);
      expect(await store.getApiKey("acme", record.id)).toBeNull();
      expect(await store.verifyApiKey(apiKey, at(1000))).toBeNull();
      expect(await store.verifyApiKey(kept.apiKey, at(1000))).toMatchObject({ org: "beta" });
      // The slug is free again, with a new external id.
      expect(await store.createOrg("acme", "Acme again", at(2000))).toMatchObject({ slug: "acme", name: "Acme again" });
    });

    it("answers ping while open, and rejects calls once closed", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await store.close();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.getOrg("acme")).rejects.toThrow();
      disposed = true;
      await fx.dispose();
    });
  });
}
