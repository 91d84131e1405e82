import { Pool } from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresCacheInvalidation } from "./cache-invalidation-postgres";
import { PostgresRateLimiter } from "./rate-limit-postgres";
import { CredentialCache, type RuntimeCredential } from "./runtime";
import { PostgresRoundLease } from "./scheduler-lease";
import { waitFor } from "@/tests/support/wait";

/**
 * What instances share through Postgres, with two pools standing for two instances: budgets
 * counted atomically, cache invalidations by LISTEN/NOTIFY, one scheduler round per lease.
 * Needs AUTH_TEST_DATABASE_URL (tests/run.sh starts a throwaway Postgres); skipped otherwise.
 */
const URL_ = process.env.AUTH_TEST_DATABASE_URL;
const log = pino({ level: "silent" });

describe.skipIf(!URL_)("Postgres: shared budgets, cache invalidation, scheduler lease", () => {
  let p1: Pool;
  let p2: Pool;
  const scope = `test-${process.pid}-${Date.now()}`;
  beforeAll(() => {
    p1 = new Pool({ connectionString: URL_, max: 5 });
    p2 = new Pool({ connectionString: URL_, max: 5 });
  });
  afterAll(async () => {
    await p1.query("DELETE FROM rate_limit_windows WHERE scope LIKE $1", [`${scope}%`]).catch(() => {});
    await Promise.all([p1.end(), p2.end()]);
  });

  it("a budget of N per window holds across instances, also for concurrent takes; it restarts when the window has passed", async () => {
    const [l1, l2] = [new PostgresRateLimiter(p1, scope, 5), new PostgresRateLimiter(p2, scope, 5)];
    const t0 = 1_800_000_000_000;
    const waits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? l1 : l2).take("org\u0000acme", t0 + i)));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    expect(Math.max(...waits)).toBeLessThanOrEqual(60);
    expect(Math.min(...waits.filter((w) => w > 0))).toBeGreaterThanOrEqual(1);
    // Another key, and the same key in another scope, have their own budgets.
    expect(await l1.take("org\u0000other", t0)).toBe(0);
    expect(await new PostgresRateLimiter(p1, `${scope}-b`, 5).take("org\u0000acme", t0)).toBe(0);
    // A window later, the budget is whole again (counted from the first take).
    expect(await l2.take("org\u0000acme", t0 + 60_000 + 20)).toBe(0);
    // An explicit limit (the provider's rate from the registry) overrides the default.
    expect(await l1.take("provider-x", t0, 1)).toBe(0);
    expect(await l2.take("provider-x", t0, 1)).toBeGreaterThan(0);
  });

  it("an invalidation on one instance reaches the other's cache at once; its own is not echoed back", async () => {
    const now = () => Date.now();
    const cacheA = new CredentialCache({ ttlMs: 300_000, maxEntries: 10, now });
    const cacheB = new CredentialCache({ ttlMs: 300_000, maxEntries: 10, now });
    const syncA = new PostgresCacheInvalidation({ url: URL_!, pool: p1, cache: cacheA, log });
    const syncB = new PostgresCacheInvalidation({ url: URL_!, pool: p2, cache: cacheB, log });
    syncA.publishFrom(cacheA);
    syncB.publishFrom(cacheB);
    await Promise.all([syncA.listen(), syncB.listen()]);
    try {
      let loads = 0;
      const value = (): RuntimeCredential => ({ org: "acme", provider: "openai", credentialId: "c1", version: 1, fingerprint: "abcd1234", status: "active", credential: { api_key: "x" } });
      const load = async () => {
        loads++;
        return value();
      };
      await cacheB.get("acme", "openai", load);
      await cacheB.get("acme", "openai", load);
      expect(loads).toBe(1);
      await cacheA.get("acme", "other", load);
      cacheA.invalidate("acme", "openai");
      const t = Date.now();
      // The cache keeps an entry 5 minutes: emptied within seconds, only the notice did it. No
      // bound on the time itself (tests never fail on a time); it is printed.
      await waitFor(() => cacheB.size === 0, "the invalidation notice on the other instance");
      expect(cacheB.size).toBe(0);
      console.info(`cache invalidation reached the other instance in ${Date.now() - t} ms`);
      await cacheB.get("acme", "openai", load);
      expect(loads).toBe(3);
      // A's own entry for another provider was not touched by its own notification.
      expect(cacheA.size).toBe(1);
    } finally {
      await Promise.all([syncA.close(), syncB.close()]);
    }
  });

  it("exactly one of two instances claims each round; a round still busy blocks the next one until renewed to done or expired", async () => {
    const [a, b] = [new PostgresRoundLease(p1), new PostgresRoundLease(p2)];
    const job = `job-${scope}`;
    const t = (s: number) => new Date(1_800_000_000_000 + s * 1000);
    for (const [round, at] of [[100, 0], [101, 10], [102, 20]] as const) {
      const wins = await Promise.all([a.claim(job, round, "a", t(at), t(at)), b.claim(job, round, "b", t(at), t(at)), a.claim(job, round, "a", t(at), t(at))]);
      expect(wins.filter(Boolean)).toHaveLength(1);
    }
    // An older round is never claimed again.
    expect(await b.claim(job, 101, "b", t(30), t(30))).toBe(false);
    // Round 103 claimed by a, busy for 60 s: round 104 cannot start meanwhile, even though it is newer.
    expect(await a.claim(job, 103, "a", t(30), t(90))).toBe(true);
    expect(await b.claim(job, 104, "b", t(40), t(100))).toBe(false);
    // a renews (still running), then finishes: 104 is still skipped until then, 105 starts after.
    await a.renew(job, "a", t(150));
    expect(await b.claim(job, 105, "b", t(100), t(160))).toBe(false);
    await a.renew(job, "a", t(110));
    expect(await b.claim(job, 105, "b", t(110), t(170))).toBe(true);
    // b dies without finishing: after its busy time, another instance takes over.
    expect(await a.claim(job, 106, "a", t(165), t(200))).toBe(false);
    expect(await a.claim(job, 106, "a", t(170), t(200))).toBe(true);
    await p1.query("DELETE FROM scheduler_leases WHERE job = $1", [job]);
  });
});
