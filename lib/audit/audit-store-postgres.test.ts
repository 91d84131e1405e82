import crypto from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { escapeIdentifier, Pool } from "pg";
import { describeAuditStoreContract } from "./audit-store-contract";
import { PostgresAuditStore } from "./audit-store-postgres";

/**
 * PostgresAuditStore (AUTH_DATABASE_URL) against a real Postgres, when AUTH_TEST_DATABASE_URL
 * names one (`npm test` starts a throwaway one when it can); says so when skipped. Each test gets
 * a fresh schema, dropped afterwards.
 */
const url = process.env.AUTH_TEST_DATABASE_URL;

if (url) {
  const admin = new Pool({ connectionString: url, max: 1 });
  afterAll(() => admin.end());

  describeAuditStoreContract("Postgres", async () => {
    const schema = `cm_audit_store_test_${crypto.randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    const pools: Pool[] = [];
    const pool = () => {
      const p = new Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
      pools.push(p);
      return p;
    };
    const key = crypto.randomBytes(32);
    const main = pool();
    return {
      store: new PostgresAuditStore(main, key),
      key,
      async raw(sql, params = []) {
        let i = 0;
        await main.query(sql.replace(/\?/g, () => `$${++i}`), params);
      },
      another: () => new PostgresAuditStore(pool(), key),
      async dispose() {
        for (const p of pools) await p.end();
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      },
    };
  });
} else {
  describe("AuditStore contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
