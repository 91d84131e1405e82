import crypto from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { escapeIdentifier, Pool } from "pg";
import { describeMailQueueContract } from "./mail-queue-contract";
import { PostgresMailQueue } from "./mail-queue-postgres";

/** PostgresMailQueue (AUTH_DATABASE_URL) against a real Postgres, each test in a throwaway schema; skipped without AUTH_TEST_DATABASE_URL. */
const url = process.env.AUTH_TEST_DATABASE_URL;

if (url) {
  const admin = new Pool({ connectionString: url, max: 1 });
  afterAll(() => admin.end());
  describeMailQueueContract("Postgres", async () => {
    const schema = `cm_mail_queue_test_${crypto.randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    const pools: Pool[] = [];
    const handle = () => {
      const pool = new Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
      pools.push(pool);
      return new PostgresMailQueue(pool);
    };
    return {
      queue: handle(),
      second: handle,
      async dispose() {
        await Promise.all(pools.map((p) => p.end()));
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      },
    };
  });
} else {
  describe("MailQueue contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
