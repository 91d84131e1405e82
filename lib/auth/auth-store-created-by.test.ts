import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqliteAuthStore } from "./auth-store-sqlite";

describe("SqliteAuthStore: files made before keys recorded their creator", () => {
  it("gains the created_by column on open; old keys count as the CLI's, keep working, and are never revoked with a member", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-auth-store-old-"));
    const file = path.join(dir, "auth.sqlite");
    try {
      const store0 = new SqliteAuthStore(file);
      await store0.createOrg("acme", "Acme", new Date("2030-01-01T00:00:00.000Z"));
      const old = await store0.createApiKey("acme", "admin", "old", new Date("2030-01-01T00:00:00.000Z"));
      await store0.close();
      // The file as an older version left it: no created_by column.
      const db = new Database(file);
      db.exec("DROP INDEX IF EXISTS org_api_keys_created_by; ALTER TABLE org_api_keys DROP COLUMN created_by");
      expect((db.prepare("PRAGMA table_info(org_api_keys)").all() as Array<{ name: string }>).map((c) => c.name)).not.toContain("created_by");
      db.close();

      const store = new SqliteAuthStore(file);
      expect(await store.getApiKey("acme", old.record.id)).toMatchObject({ createdBy: null, revokedAt: null });
      const mine = await store.createApiKey("acme", "viewer", "mine", new Date("2030-01-02T00:00:00.000Z"), "user-1");
      expect(await store.revokeApiKeysCreatedBy("acme", "user-1", new Date("2030-01-03T00:00:00.000Z"))).toEqual([mine.record.id]);
      expect(await store.verifyApiKey(old.apiKey, new Date("2030-01-03T00:00:00.000Z"))).toMatchObject({ org: "acme", role: "admin" });
      await store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("orgs gain created_by on open; orgs made before count for nobody, and the per-account cap still holds", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-auth-store-old-orgs-"));
    const file = path.join(dir, "auth.sqlite");
    try {
      const store0 = new SqliteAuthStore(file);
      await store0.createOrg("old", "Old", new Date("2030-01-01T00:00:00.000Z"));
      await store0.close();
      const db = new Database(file);
      db.exec("DROP INDEX IF EXISTS orgs_created_by; ALTER TABLE orgs DROP COLUMN created_by");
      expect((db.prepare("PRAGMA table_info(orgs)").all() as Array<{ name: string }>).map((c) => c.name)).not.toContain("created_by");
      db.close();

      const store = new SqliteAuthStore(file);
      expect(await store.getOrg("old")).toMatchObject({ slug: "old", name: "Old" });
      const now = new Date("2030-01-02T00:00:00.000Z");
      expect(await store.createOrgLimited("n1", "N1", now, { userId: "user-1", max: 1 })).toMatchObject({ slug: "n1" });
      expect(await store.createOrgLimited("n2", "N2", now, { userId: "user-1", max: 1 })).toBe("limit");
      await store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
