import crypto from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { escapeIdentifier, Pool } from "pg";
import { describeAuthStoreContract } from "./auth-store-contract";
import { PostgresAuthStore } from "./auth-store-postgres";

/**
 * PostgresAuthStore (AUTH_DATABASE_URL) against a real Postgres. Runs only when
 * AUTH_TEST_DATABASE_URL names a database it may create schemas in (`npm test` starts a
 * throwaway one when it can), and says so when skipped. Each test gets a fresh schema (through
 * the pool's search_path), dropped afterwards, so runs never see each other's rows.
 */
const url = process.env.AUTH_TEST_DATABASE_URL;

if (url) {
  const admin = new Pool({ connectionString: url, max: 1 });
  afterAll(() => admin.end());

  describeAuthStoreContract("Postgres", async () => {
    const schema = `cm_auth_store_test_${crypto.randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    const pool = new Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
    return {
      store: new PostgresAuthStore(pool),
      async dispose() {
        await pool.end();
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      },
    };
  });
} else {
  describe("AuthStore contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
