import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { describeWebhookStoreContract } from "./webhook-store-contract";
import { SqliteWebhookStore } from "./webhook-store-sqlite";

describeWebhookStoreContract("SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-webhook-store-"));
  return { store: new SqliteWebhookStore(path.join(dir, "auth.sqlite")), dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

describe("SqliteWebhookStore: files made before endpoints recorded their creator", () => {
  it("gains the created_by column on open; old endpoints keep working, have no creator and are never deleted with a member", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-webhook-store-old-"));
    const file = path.join(dir, "auth.sqlite");
    try {
      const base = { events: ["integration.created" as const], secretCiphertext: Buffer.from([1, 2]), secretKeyRef: "local", secretKeyVersion: "k1", createdAt: "2030-01-01T00:00:00.000Z" };
      const store0 = new SqliteWebhookStore(file);
      await store0.createEndpoint({ ...base, id: "wh_00000000000000a1", org: "acme", url: "https://hooks.example.com/old" });
      await store0.enqueue([{ id: "msg_1", endpointId: "wh_00000000000000a1", org: "acme", event: "integration.created", provider: null, payload: "{}", createdAt: base.createdAt, nextAttemptAt: base.createdAt }]);
      await store0.close();
      // The file as an older version left it: no created_by column.
      const db = new Database(file);
      db.exec("DROP INDEX IF EXISTS webhook_endpoints_created_by; ALTER TABLE webhook_endpoints DROP COLUMN created_by");
      expect((db.prepare("PRAGMA table_info(webhook_endpoints)").all() as Array<{ name: string }>).map((c) => c.name)).not.toContain("created_by");
      db.close();

      const store = new SqliteWebhookStore(file);
      expect(await store.getEndpoint("acme", "wh_00000000000000a1")).toMatchObject({ url: "https://hooks.example.com/old", createdBy: null });
      await store.createEndpoint({ ...base, id: "wh_00000000000000a2", org: "acme", url: "https://hooks.example.com/new", createdBy: "user-1" });
      expect(await store.deleteEndpointsCreatedBy("acme", "user-1")).toEqual([{ id: "wh_00000000000000a2", url: "https://hooks.example.com/new" }]);
      expect((await store.listEndpoints("acme")).map((e) => e.id)).toEqual(["wh_00000000000000a1"]);
      expect((await store.claimDue("2030-01-02T00:00:00.000Z", "2030-01-02T00:01:00.000Z", 10)).map((d) => d.id)).toEqual(["msg_1"]);
      await store.close();
      // Opening again changes nothing (the migration runs once).
      const again = new SqliteWebhookStore(file);
      expect((await again.listEndpoints("acme")).map((e) => [e.id, e.createdBy])).toEqual([["wh_00000000000000a1", null]]);
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
