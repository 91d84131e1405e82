import crypto from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { escapeIdentifier, Pool } from "pg";
import { describeWebhookStoreContract } from "./webhook-store-contract";
import { PostgresWebhookStore } from "./webhook-store-postgres";

/** PostgresWebhookStore (AUTH_DATABASE_URL) against a real Postgres, each test in a throwaway schema; skipped without AUTH_TEST_DATABASE_URL. */
const url = process.env.AUTH_TEST_DATABASE_URL;

if (url) {
  const admin = new Pool({ connectionString: url, max: 1 });
  afterAll(() => admin.end());
  describeWebhookStoreContract("Postgres", async () => {
    const schema = `cm_webhook_store_test_${crypto.randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    const pool = new Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
    return {
      store: new PostgresWebhookStore(pool),
      async dispose() {
        await pool.end();
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      },
    };
  });

  describe("PostgresWebhookStore: a database made before endpoints recorded their creator", () => {
    it("gains webhook_endpoints.created_by on first use; old endpoints have none and stay", async () => {
      const schema = `cm_webhook_store_old_${crypto.randomBytes(6).toString("hex")}`;
      await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
      const pool = new Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
      try {
        // The table as an older version made it (no created_by).
        await pool.query(
          "CREATE TABLE webhook_endpoints (id TEXT PRIMARY KEY, org TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL, secret_ciphertext BYTEA NOT NULL, secret_key_ref TEXT NOT NULL, secret_key_version TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
        );
        await pool.query("INSERT INTO webhook_endpoints VALUES ('wh_00000000000000a1', 'acme', 'https://hooks.example.com/old', '[\"integration.created\"]', '\\x0102', 'local', 'k1', now())");
        const store = new PostgresWebhookStore(pool);
        expect(await store.getEndpoint("acme", "wh_00000000000000a1")).toMatchObject({ url: "https://hooks.example.com/old", createdBy: null });
        await store.createEndpoint({ id: "wh_00000000000000a2", org: "acme", url: "https://hooks.example.com/new", events: ["integration.created"], secretCiphertext: Buffer.from([1]), secretKeyRef: "local", secretKeyVersion: "k1", createdAt: "2030-01-01T00:00:00.000Z", createdBy: "user-1" });
        expect(await store.deleteEndpointsCreatedBy("acme", "user-1")).toEqual([{ id: "wh_00000000000000a2", url: "https://hooks.example.com/new" }]);
        expect((await store.listEndpoints("acme")).map((e) => [e.id, e.createdBy])).toEqual([["wh_00000000000000a1", null]]);
        await store.close();
      } finally {
        await pool.end();
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      }
    });
  });
} else {
  describe("WebhookStore contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
