import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { StoreConflictError, type CredentialRow, type CredentialStore } from "./store";

/**
 * The CredentialStore contract, written once and run against every backend (SQLite, BigQuery
 * against its fake, BigQuery live). Each case gets a fresh, empty store from `makeStore`.
 */
export function describeCredentialStoreContract(
  name: string,
  makeStore: () => Promise<{ store: CredentialStore; cleanup: () => Promise<void> }>,
): void {
  describe(`CredentialStore contract: ${name}`, () => {
    let store: CredentialStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const made = await makeStore();
      store = made.store;
      cleanup = made.cleanup;
    });

    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    it("put a new row (expected null), then get returns every field, ciphertext bytes and JSON columns", async () => {
      const row = makeRow({ ciphertext: allByteValues() });
      const written = await store.put(row, null);
      expect(written).toStrictEqual(row);

      const got = await store.get(row.org, row.provider);
      expect(got).toStrictEqual(row);
      expect(Buffer.isBuffer(got!.ciphertext)).toBe(true);
      expect(got!.ciphertext.equals(row.ciphertext)).toBe(true);
      expect(got!.metadata).toStrictEqual({ label: "prod", nested: { n: 1, list: [1, "two", null], flag: true } });
      expect(got!.account).toStrictEqual({ id: "123456789012", name: "Prod" });
      expect(got!.lastError).toStrictEqual({ code: "AUTH", message: "Access denied", at: "2026-01-02T03:04:06.000Z" });
    });

    it("round-trips null optional columns and returns null for a missing row", async () => {
      const row = makeRow({
        provider: "gcp",
        keyKind: null,
        account: null,
        lastValidatedAt: null,
        lastError: null,
        metadata: {},
        status: "pending",
      });
      await store.put(row, null);
      expect(await store.get(row.org, "gcp")).toStrictEqual(row);
      expect(await store.get(row.org, "azure")).toBeNull();
      expect(await store.get("org-nobody", "gcp")).toBeNull();
    });

    it("matches org and provider exactly, including quotes, wildcards and unicode", async () => {
      const org = "o'; DROP TABLE org_integration_credentials; --";
      const row = makeRow({ org, provider: 'gcp"%_', metadata: { label: "Zürich ☁️ 'quoted' \"dq\"" } });
      await store.put(row, null);
      expect(await store.get(org, 'gcp"%_')).toStrictEqual(row);
      expect(await store.get(org.toUpperCase(), 'gcp"%_')).toBeNull();
      expect(await store.get(org, "gcp")).toBeNull();
      expect(await store.get(org, "gcp%")).toBeNull();
      expect(await store.listByOrg("%")).toStrictEqual([]);
      expect(await store.listByOrg(org)).toStrictEqual([row]);
    });

    it("put with expected null when the row exists → conflict, and the old row is unchanged", async () => {
      const original = makeRow();
      await store.put(original, null);
      const intruder = makeRow({ credentialId: "cred-2", ciphertext: randomBytes(40), fingerprint: "ffffffff" });
      await expect(store.put(intruder, null)).rejects.toBeInstanceOf(StoreConflictError);

      const got = await store.get(original.org, original.provider);
      expect(got).toStrictEqual(original);
      expect(got!.ciphertext.equals(original.ciphertext)).toBe(true);
    });

    it("replacement with the correct expected version makes the new version visible", async () => {
      const v1 = makeRow();
      await store.put(v1, null);
      const v2 = makeRow({
        credentialId: "cred-2",
        ciphertext: randomBytes(64),
        keyVersion: "k2",
        fingerprint: "0badf00d",
        status: "pending",
        metadata: { label: "rotated" },
        account: { id: "999", name: null },
        version: 2,
        updatedAt: "2026-02-01T00:00:00.000Z",
        lastValidatedAt: null,
        lastError: null,
      });
      expect(await store.put(v2, 1)).toStrictEqual(v2);
      const got = await store.get(v1.org, v1.provider);
      expect(got).toStrictEqual(v2);
      expect(got!.version).toBe(2);
      expect(got!.ciphertext.equals(v2.ciphertext)).toBe(true);
    });

    it("replacement with a stale expected version → conflict, and the old row is byte-equal", async () => {
      const v1 = makeRow();
      await store.put(v1, null);
      const v2 = makeRow({ ciphertext: randomBytes(48), version: 2 });
      await store.put(v2, 1);

      const stale = makeRow({ ciphertext: randomBytes(48), fingerprint: "deadbeef", version: 2 });
      await expect(store.put(stale, 1)).rejects.toBeInstanceOf(StoreConflictError);
      const ahead = makeRow({ ciphertext: randomBytes(48), version: 4 });
      await expect(store.put(ahead, 3)).rejects.toBeInstanceOf(StoreConflictError);

      const got = await store.get(v1.org, v1.provider);
      expect(got).toStrictEqual(v2);
      expect(got!.ciphertext.equals(v2.ciphertext)).toBe(true);
    });

    it("replacement of a missing row (expected version given) → conflict, and nothing is created", async () => {
      await expect(store.put(makeRow({ version: 2 }), 1)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get("org-a", "aws")).toBeNull();
      expect(await store.listByOrg("org-a")).toStrictEqual([]);
    });

    it("put rejects a row whose version is not expected + 1 (not a conflict) and writes nothing", async () => {
      const bad = store.put(makeRow({ version: 2 }), null);
      await expect(bad).rejects.toThrow();
      await bad.catch((err: unknown) => expect(err).not.toBeInstanceOf(StoreConflictError));
      expect(await store.get("org-a", "aws")).toBeNull();

      const v1 = makeRow();
      await store.put(v1, null);
      await expect(store.put(makeRow({ ciphertext: randomBytes(8), version: 1 }), 1)).rejects.toThrow();
      expect(await store.get("org-a", "aws")).toStrictEqual(v1);
    });

    it("update with the right version changes only the patched columns and keeps the version", async () => {
      const row = makeRow();
      await store.put(row, null);
      const lastError = { code: "EXPIRED", message: "Key expired", at: "2026-03-01T00:00:00.000Z" };
      const updated = await store.update(row.org, row.provider, 1, {
        status: "expired",
        lastError,
        updatedAt: "2026-03-01T00:00:00.000Z",
      });
      const expected: CredentialRow = { ...row, status: "expired", lastError, updatedAt: "2026-03-01T00:00:00.000Z" };
      expect(updated).toStrictEqual(expected);
      const got = await store.get(row.org, row.provider);
      expect(got).toStrictEqual(expected);
      expect(got!.version).toBe(1);
      expect(got!.ciphertext.equals(row.ciphertext)).toBe(true);
    });

    it("update can re-encrypt, set JSON columns and clear nullable columns", async () => {
      const row = makeRow();
      await store.put(row, null);
      const ciphertext = randomBytes(72);
      const patch = {
        ciphertext,
        keyRef: "local:k2",
        keyVersion: "k2",
        keyKind: null,
        metadata: { label: "relabelled", tags: ["a", "b"] },
        account: null,
        lastValidatedAt: "2026-04-01T00:00:00.000Z",
        lastError: null,
      };
      const got = await store.update(row.org, row.provider, 1, patch);
      expect(got).toStrictEqual({ ...row, ...patch });
      expect((await store.get(row.org, row.provider))!.ciphertext.equals(ciphertext)).toBe(true);
    });

    it("update with a wrong version → conflict and nothing changes; update of a missing row → conflict", async () => {
      const row = makeRow();
      await store.put(row, null);
      await expect(
        store.update(row.org, row.provider, 2, { status: "invalid", ciphertext: randomBytes(16) }),
      ).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.update(row.org, row.provider, 0, { status: "invalid" })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
      const got = await store.get(row.org, row.provider);
      expect(got).toStrictEqual(row);
      expect(got!.ciphertext.equals(row.ciphertext)).toBe(true);

      await expect(store.update(row.org, "azure", 1, { status: "invalid" })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
      expect(await store.get(row.org, "azure")).toBeNull();
    });

    it("update after a replacement with the pre-replacement version → conflict", async () => {
      await store.put(makeRow(), null);
      const v2 = makeRow({ ciphertext: randomBytes(32), version: 2 });
      await store.put(v2, 1);
      await expect(store.update("org-a", "aws", 1, { status: "invalid" })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
      expect(await store.get("org-a", "aws")).toStrictEqual(v2);
    });

    it("delete removes the row; deleting a missing row returns false", async () => {
      const row = makeRow();
      await store.put(row, null);
      expect(await store.delete(row.org, row.provider)).toBe(true);
      expect(await store.get(row.org, row.provider)).toBeNull();
      expect(await store.listByOrg(row.org)).toStrictEqual([]);
      expect(await store.delete(row.org, row.provider)).toBe(false);
      expect(await store.delete("org-nobody", "aws")).toBe(false);
      // The key is free again.
      const again = makeRow({ ciphertext: randomBytes(20) });
      await store.put(again, null);
      expect(await store.get(row.org, row.provider)).toStrictEqual(again);
    });

    it("update guarded by credential id: after delete + a new setup at version 1, a write meant for the old credential conflicts", async () => {
      const old = makeRow({ credentialId: "11111111-1111-4111-8111-111111111111" });
      await store.put(old, null);
      await store.delete(old.org, old.provider);
      const fresh = makeRow({ credentialId: "22222222-2222-4222-8222-222222222222", ciphertext: randomBytes(24) });
      await store.put(fresh, null);
      await expect(
        store.update(old.org, old.provider, 1, { status: "invalid" }, { credentialId: old.credentialId }),
      ).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.update(old.org, old.provider, 1, {}, { credentialId: old.credentialId })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get(old.org, old.provider)).toStrictEqual(fresh);
      const ok = await store.update(old.org, old.provider, 1, { status: "invalid" }, { credentialId: fresh.credentialId });
      expect(ok.status).toBe("invalid");
    });

    it("delete with a wrong expected version → conflict and the row stays; the right one deletes", async () => {
      const row = makeRow();
      await store.put(row, null);
      await expect(store.delete(row.org, row.provider, 2)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get(row.org, row.provider)).toStrictEqual(row);
      expect(await store.delete(row.org, row.provider, 1)).toBe(true);
      expect(await store.get(row.org, row.provider)).toBeNull();
      expect(await store.delete(row.org, row.provider, 1)).toBe(false);
    });

    it("tenant isolation: two orgs with the same provider and credentialId never see each other's rows", async () => {
      const a = makeRow({ org: "acme", credentialId: "shared-id", ciphertext: randomBytes(32), fingerprint: "aaaaaaaa" });
      const b = makeRow({ org: "acme-2", credentialId: "shared-id", ciphertext: randomBytes(32), fingerprint: "bbbbbbbb" });
      // Creating B's row is not a conflict with A's row.
      await store.put(a, null);
      await store.put(b, null);

      expect(await store.get("acme", "aws")).toStrictEqual(a);
      expect(await store.get("acme-2", "aws")).toStrictEqual(b);
      expect(await store.get("ACME", "aws")).toBeNull();
      expect(await store.get("acme-", "aws")).toBeNull();
      expect(await store.listByOrg("acme")).toStrictEqual([a]);
      expect(await store.listByOrg("acme-2")).toStrictEqual([b]);
      expect(await store.listByOrg("acme%")).toStrictEqual([]);

      // Updating A (even with B's matching version) leaves B alone.
      await store.update("acme", "aws", 1, { status: "invalid", metadata: { label: "a-only" } });
      expect(await store.get("acme-2", "aws")).toStrictEqual(b);

      // Replacing A leaves B at version 1.
      const a2 = makeRow({ org: "acme", credentialId: "shared-id", ciphertext: randomBytes(32), version: 2 });
      await store.put(a2, 1);
      expect(await store.get("acme-2", "aws")).toStrictEqual(b);
      // B's version is still 1, so a put against version 2 for B conflicts.
      await expect(store.put(makeRow({ org: "acme-2", version: 3 }), 2)).rejects.toBeInstanceOf(StoreConflictError);

      // A versioned delete of A only looks at A's version (A is at 2, B at 1).
      await expect(store.delete("acme", "aws", 1)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get("acme", "aws")).toStrictEqual(a2);
      expect(await store.get("acme-2", "aws")).toStrictEqual(b);

      // Deleting A leaves B, and deleting B leaves nothing of A's to find.
      expect(await store.delete("acme", "aws")).toBe(true);
      expect(await store.get("acme-2", "aws")).toStrictEqual(b);
      expect(await store.listByOrg("acme-2")).toStrictEqual([b]);
      await store.put(a, null);
      expect(await store.delete("acme-2", "aws", 1)).toBe(true);
      expect(await store.get("acme", "aws")).toStrictEqual(a);
      expect(await store.delete("acme-2", "aws")).toBe(false);
      expect(await store.listByOrg("acme")).toStrictEqual([a]);
    });

    it("listByOrg returns only that org, ordered by provider", async () => {
      const providers = ["gcp", "aws", "snowflake", "azure", "datadog"];
      for (const provider of providers) await store.put(makeRow({ org: "org-a", provider }), null);
      await store.put(makeRow({ org: "org-b", provider: "aws" }), null);
      await store.put(makeRow({ org: "org-0", provider: "azure" }), null);

      const list = await store.listByOrg("org-a");
      expect(list.map((r) => r.provider)).toStrictEqual(["aws", "azure", "datadog", "gcp", "snowflake"]);
      expect(list.every((r) => r.org === "org-a")).toBe(true);
      expect(list.every((r) => Buffer.isBuffer(r.ciphertext))).toBe(true);
      expect((await store.listByOrg("org-b")).map((r) => r.provider)).toStrictEqual(["aws"]);
      expect(await store.listByOrg("org-c")).toStrictEqual([]);
    });

    it("listSummaries returns only that org, ordered by provider, every listed field and no ciphertext or key columns", async () => {
      const full = makeRow({ org: "org-a", provider: "gcp" });
      const bare = makeRow({ org: "org-a", provider: "aws", keyKind: null, account: null, lastValidatedAt: null, lastError: null, metadata: {}, status: "pending" });
      await store.put(full, null);
      await store.put(bare, null);
      await store.put(makeRow({ org: "org-b", provider: "azure" }), null);
      const summary = ({ ciphertext, credentialId, keyRef, keyVersion, ...rest }: CredentialRow) => {
        void [ciphertext, credentialId, keyRef, keyVersion];
        return rest;
      };
      const list = await store.listSummaries("org-a");
      expect(list).toStrictEqual([summary(bare), summary(full)]);
      for (const r of list) for (const k of ["ciphertext", "credentialId", "keyRef", "keyVersion"]) expect(r).not.toHaveProperty(k);
      expect(await store.listSummaries("org-c")).toStrictEqual([]);
      expect(await store.listSummaries("%")).toStrictEqual([]);
      // After a patch, the listing shows the patched columns.
      await store.update("org-a", "gcp", 1, { status: "invalid", metadata: { label: "x" }, updatedAt: "2026-02-03T04:05:06Z" });
      expect((await store.listSummaries("org-a"))[1]).toMatchObject({ status: "invalid", metadata: { label: "x" }, updatedAt: "2026-02-03T04:05:06.000Z" });
      expect((await store.get("org-a", "gcp"))!.updatedAt).toBe("2026-02-03T04:05:06.000Z");
    });

    it("listPage visits every row exactly once in (org, provider) order, in pages of 2", async () => {
      const keys: Array<[string, string]> = [
        ["org-b", "gcp"],
        ["org-a", "gcp"],
        ["org-c", "aws"],
        ["org-a", "aws"],
        ["org-b", "aws"],
        ["org-a", "azure"],
        ["org-b", "azure"],
      ];
      for (const [org, provider] of keys) await store.put(makeRow({ org, provider }), null);

      const seen: string[] = [];
      const sizes: number[] = [];
      let after: { org: string; provider: string } | undefined;
      for (let i = 0; i < 20; i++) {
        const page = await store.listPage({ after, limit: 2 });
        sizes.push(page.length);
        if (page.length === 0) break;
        seen.push(...page.map((r) => `${r.org}/${r.provider}`));
        const last = page[page.length - 1]!;
        after = { org: last.org, provider: last.provider };
      }
      expect(seen).toStrictEqual([
        "org-a/aws",
        "org-a/azure",
        "org-a/gcp",
        "org-b/aws",
        "org-b/azure",
        "org-b/gcp",
        "org-c/aws",
      ]);
      expect(sizes).toStrictEqual([2, 2, 2, 1, 0]);
    });

    it("listPage starts strictly after a cursor that need not exist, and returns full rows", async () => {
      for (const [org, provider] of [
        ["org-a", "aws"],
        ["org-a", "gcp"],
        ["org-b", "aws"],
      ] as const) {
        await store.put(makeRow({ org, provider }), null);
      }
      const fromMiddle = await store.listPage({ after: { org: "org-a", provider: "azure" }, limit: 10 });
      expect(fromMiddle.map((r) => `${r.org}/${r.provider}`)).toStrictEqual(["org-a/gcp", "org-b/aws"]);
      expect(fromMiddle[1]).toStrictEqual(await store.get("org-b", "aws"));
      const exact = await store.listPage({ after: { org: "org-a", provider: "gcp" }, limit: 10 });
      expect(exact.map((r) => `${r.org}/${r.provider}`)).toStrictEqual(["org-b/aws"]);
      expect(await store.listPage({ after: { org: "org-b", provider: "aws" }, limit: 10 })).toStrictEqual([]);
      expect(await store.listPage({ after: { org: "org-z", provider: "" }, limit: 10 })).toStrictEqual([]);
    });

    it("concurrent replacements racing on the same expected version: exactly one wins", async () => {
      await store.put(makeRow(), null);
      const contenders = Array.from({ length: 6 }, (_, i) =>
        makeRow({ ciphertext: randomBytes(32), fingerprint: `0000000${i}`, version: 2 }),
      );
      const results = await Promise.allSettled(contenders.map((row) => store.put(row, 1)));

      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StoreConflictError);
      }
      const winner = contenders[won[0]!]!;
      const got = await store.get("org-a", "aws");
      expect(got).toStrictEqual(winner);
      expect(got!.ciphertext.equals(winner.ciphertext)).toBe(true);
    });

    it("concurrent creations (expected null) of the same key: exactly one wins", async () => {
      const contenders = Array.from({ length: 5 }, (_, i) =>
        makeRow({ ciphertext: randomBytes(32), credentialId: `cred-${i}` }),
      );
      const results = await Promise.allSettled(contenders.map((row) => store.put(row, null)));
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StoreConflictError);
      }
      expect(await store.get("org-a", "aws")).toStrictEqual(contenders[won[0]!]);
      expect(await store.listByOrg("org-a")).toHaveLength(1);
    });

    it("ping resolves", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

function makeRow(overrides: Partial<CredentialRow> = {}): CredentialRow {
  return {
    org: "org-a",
    provider: "aws",
    credentialId: "cred-1",
    ciphertext: randomBytes(48),
    keyRef: "local:k1",
    keyVersion: "k1",
    fingerprint: "a1b2c3d4",
    status: "active",
    keyKind: "access_key",
    metadata: { label: "prod", nested: { n: 1, list: [1, "two", null], flag: true } },
    account: { id: "123456789012", name: "Prod" },
    version: 1,
    createdAt: "2026-01-02T03:04:05.000Z",
    updatedAt: "2026-01-02T03:04:05.000Z",
    lastValidatedAt: "2026-01-02T03:04:06.000Z",
    lastError: { code: "AUTH", message: "Access denied", at: "2026-01-02T03:04:06.000Z" },
    ...overrides,
  };
}

/** 0x00..0xff twice: NUL bytes, invalid UTF-8 and high bytes must survive unchanged. */
function allByteValues(): Buffer {
  const b = Buffer.alloc(512);
  for (let i = 0; i < b.length; i++) b[i] = i % 256;
  return b;
}
