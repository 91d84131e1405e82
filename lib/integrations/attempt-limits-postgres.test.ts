import crypto from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { escapeIdentifier, Pool } from "pg";
import { describeAttemptLimitsContract } from "../auth/attempt-limits-contract";
import { AttemptLimits, SIGN_IN_WINDOWS } from "../auth/attempt-limits";
import { PostgresSignInFailures } from "../auth/sign-in-failures-postgres";
import { PostgresRateLimiter } from "./rate-limit-postgres";

/**
 * The accounts' attempt budgets (lib/auth/attempt-limits.ts) on Postgres (AUTH_DATABASE_URL), two
 * instances each with its own pool on one database, as behind a load balancer: the sign-in
 * counters in PostgresSignInFailures, the sign-up and mail budgets in PostgresRateLimiter (this
 * file sits beside the other shared budgets because lib/auth imports nothing from
 * lib/integrations). Runs only when AUTH_TEST_DATABASE_URL names a database it may create schemas
 * in (`npm test` starts a throwaway one when it can), and says so when skipped. Each test gets a
 * fresh schema (through the pools' search_path), dropped afterwards.
 */
const url = process.env.AUTH_TEST_DATABASE_URL;

if (url) {
  const admin = new Pool({ connectionString: url, max: 1 });
  afterAll(() => admin.end());

  describeAttemptLimitsContract("Postgres, two instances", async () => {
    const schema = `cm_attempts_test_${crypto.randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE SCHEMA ${escapeIdentifier(schema)}`);
    const instances = [0, 1].map(() => {
      const pool = new Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });
      const store = new PostgresSignInFailures(pool, SIGN_IN_WINDOWS);
      const limits = new AttemptLimits(store, (scope, limit, windowMs) => new PostgresRateLimiter(pool, scope, limit, windowMs));
      return { pool, store, limits };
    });
    return {
      limits: (i) => instances[i]!.limits,
      store: (i) => instances[i]!.store,
      async dispose() {
        await Promise.all(instances.map((x) => x.pool.end()));
        await admin.query(`DROP SCHEMA ${escapeIdentifier(schema)} CASCADE`);
      },
    };
  });
} else {
  describe("attempt budgets contract: Postgres", () => {
    it.skip("skipped: set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres (npm test starts one when it can)", () => {});
  });
}
