import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SqliteAuthStore } from "./auth-store-sqlite";

describe("SqliteAuthStore: the request path prepares its statements once", () => {
  afterEach(() => vi.restoreAllMocks());

  it("verifyApiKey and getOrg, called many times, prepare nothing after the first call", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-auth-stmts-"));
    const store = new SqliteAuthStore(path.join(dir, "auth.sqlite"));
    const now = new Date("2026-11-30T00:00:00Z");
    await store.createOrg("acme", "Acme", now);
    const { apiKey } = await store.createApiKey("acme", "admin", null, now);
    // Warm: the first calls prepare.
    expect(await store.verifyApiKey(apiKey, now)).toMatchObject({ org: "acme", role: "admin" });
    expect(await store.getOrg("acme")).toMatchObject({ slug: "acme" });
    const prepare = vi.spyOn(Database.prototype, "prepare");
    for (let i = 0; i < 50; i++) {
      expect(await store.verifyApiKey(apiKey, now)).toMatchObject({ org: "acme" });
      expect(await store.getOrg("acme")).toMatchObject({ slug: "acme" });
    }
    // A wrong secret is still refused through the cached statement.
    expect(await store.verifyApiKey(`${apiKey.slice(0, -4)}AAAA`, now)).toBeNull();
    expect(prepare).not.toHaveBeenCalled();
    // The spy sees prepares (a path off the request path still prepares per call).
    await store.listOrgs();
    expect(prepare).toHaveBeenCalled();
    await store.close();
  });
});
