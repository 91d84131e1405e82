import crypto from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
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

  describe("PostgresAuthStore: a database made before orgs recorded their creator", () => {
    it("gains orgs.created_by on first use; older orgs count for nobody; the cap holds", async () => {
      const schema = `cm_auth_store_old_${crypto.randomBytes(6).toString("hex")}`;
      await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
      const pool = new Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
      try {
        // The orgs table as an older version made it.
        await pool.query("CREATE TABLE orgs (slug TEXT PRIMARY KEY, name TEXT NOT NULL, external_id TEXT NOT NULL UNIQUE, created_at TIMESTAMPTZ NOT NULL)");
        await pool.query("INSERT INTO orgs VALUES ('old', 'Old', 'cm-old', now())");
        const store = new PostgresAuthStore(pool);
        expect(await store.getOrg("old")).toMatchObject({ slug: "old", name: "Old" });
        const now = new Date("2030-01-02T00:00:00.000Z");
        expect(await store.createOrgLimited("n1", "N1", now, { userId: "user-1", max: 1 })).toMatchObject({ slug: "n1" });
        expect(await store.createOrgLimited("n2", "N2", now, { userId: "user-1", max: 1 })).toBe("limit");
        const { rows } = await pool.query("SELECT slug, created_by FROM orgs ORDER BY slug");
        expect(rows).toEqual([
          { slug: "n1", created_by: "user-1" },
          { slug: "old", created_by: null },
        ]);
        await store.close();
      } finally {
        await pool.end();
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      }
    });
  });
} else {
  describe("AuthStore contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
