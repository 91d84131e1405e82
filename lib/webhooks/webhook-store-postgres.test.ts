import crypto from "node:crypto";
import { afterAll, describe, it } from "vitest";
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
} else {
  describe("WebhookStore contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
