import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AttemptLimits } from "./attempt-limits";
import type { FailureCount, SignInFailureStore } from "./sign-in-failures";

/**
 * A deployment's attempt budgets, as each of its instances sees them. In process there is one
 * instance (every index answers the same object); on Postgres each index is another instance with
 * its own pool on the same database. Fresh and empty; dispose() throws it away.
 */
export interface AttemptLimitsFixture {
  /** The budgets (lib/auth/attempt-limits.ts, the one policy) over instance `i`'s store. */
  limits(i: number): AttemptLimits;
  /** Instance `i`'s SignInFailureStore, for the store-level checks. */
  store(i: number): SignInFailureStore;
  dispose(): Promise<void>;
}

const T0 = 1_900_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const ATTACKER = "203.0.113.66";
const OWNER = "198.51.100.10";

/** The wait a sign-in would get now, changing nothing: a reservation released at once (0), or the refusal. */
async function peek(limits: AttemptLimits, addr: string, email: string, now: number): Promise<number> {
  const wait = await limits.reserveSignIn(addr, email, now);
  if (wait === 0) await limits.finishSignIn(addr, email, "unchecked", now);
  return wait;
}

/** What `store.reserve` saw and answered, with `rule` the policy (here: a test rule). */
async function reserveSeeing(store: SignInFailureStore, keys: string[], known: string, now: number, rule: (c: Map<string, FailureCount>, k: boolean) => number = () => 0) {
  let seen: { counts: Map<string, FailureCount>; known: boolean } | undefined;
  const wait = await store.reserve(keys, known, now, (counts, k) => {
    seen = { counts: new Map(counts), known: k };
    return rule(counts, k);
  });
  return { wait, ...seen! };
}

/**
 * What the sign-in failure backoff and the sign-up and mail budgets must do on every backend, run
 * by attempt-limits.test.ts (in process) and attempt-limits-postgres.test.ts (Postgres, when
 * AUTH_TEST_DATABASE_URL is set). Every scenario spreads its attempts over two instances: on a
 * shared backend that must change nothing, so N instances give an attacker no more attempts than one.
 */
export function describeAttemptLimitsContract(name: string, make: () => Promise<AttemptLimitsFixture>): void {
  describe(`attempt budgets contract: ${name}`, () => {
    let fx: AttemptLimitsFixture;
    /** Instance i % 2. */
    const on = (i: number) => fx.limits(i % 2);

    beforeEach(async () => {
      fx = await make();
    });
    afterEach(async () => {
      await fx.dispose();
    });

    async function failTimes(addr: string, email: string, n: number, now = T0) {
      for (let i = 0; i < n; i++) {
        expect(await on(i).reserveSignIn(addr, email, now)).toBe(0); // reserved on one instance …
        await on(i + 1).finishSignIn(addr, email, "failed", now); // … the failure recorded on the other
      }
    }

    it("allows 5 failures from an address, then backs off exponentially (30 s, 1 min, 2 min … 15 min), whichever instance is asked", async () => {
      await failTimes(ATTACKER, "victim@example.com", 5);
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0)).toBe(0);
      await on(1).finishSignIn(ATTACKER, "victim@example.com", "failed", T0); // 6th
      expect(await peek(on(0), ATTACKER, "Victim@Example.com", T0)).toBe(30);
      expect(await peek(on(1), ATTACKER, "victim@example.com", T0)).toBe(30);
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + 29_500)).toBe(1);
      expect(await peek(on(1), ATTACKER, "victim@example.com", T0 + 30_000)).toBe(0);
      await on(0).finishSignIn(ATTACKER, "victim@example.com", "failed", T0 + 30_000); // 7th
      expect(await peek(on(1), ATTACKER, "victim@example.com", T0 + 30_000)).toBe(60);
      await on(1).finishSignIn(ATTACKER, "victim@example.com", "failed", T0 + 90_000); // 8th
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + 90_000)).toBe(120);
      for (let i = 0; i < 20; i++) await on(i).finishSignIn(ATTACKER, "victim@example.com", "failed", T0 + 100_000);
      expect(await peek(on(1), ATTACKER, "victim@example.com", T0 + 100_000)).toBe(15 * 60); // capped
    });

    it("an attacker alternating between instances gets no more tries than on one: 6, then a wait", async () => {
      let tries = 0;
      for (let i = 0; i < 40; i++) {
        if ((await on(i).reserveSignIn(ATTACKER, "victim@example.com", T0)) > 0) break;
        await on(i).finishSignIn(ATTACKER, "victim@example.com", "failed", T0);
        tries++;
      }
      expect(tries).toBe(6);
    });

    it("concurrent failures on both instances are all counted, none twice (20 free per address, then a wait)", async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).finishSignIn(ATTACKER, `user${i}@example.com`, "failed", T0)));
      expect(await peek(on(0), ATTACKER, "someone-new@example.com", T0)).toBe(0); // exactly 20: none counted twice
      await on(1).finishSignIn(ATTACKER, "user20@example.com", "failed", T0);
      expect(await peek(on(0), ATTACKER, "someone-new@example.com", T0)).toBe(30); // the 21st: none was lost
    });

    it("does not lock the owner out from their own address after 11 wrong passwords from an attacker's", async () => {
      await failTimes(ATTACKER, "owner@example.com", 5);
      for (let i = 0; i < 6; i++) await on(i).finishSignIn(ATTACKER, "owner@example.com", "failed", T0);
      expect(await peek(on(0), ATTACKER, "owner@example.com", T0)).toBeGreaterThan(0);
      expect(await peek(on(1), OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("does not count successes, and a success clears the address + account failures", async () => {
      for (let i = 0; i < 50; i++) await on(i).finishSignIn(OWNER, "owner@example.com", "succeeded", T0);
      expect(await peek(on(0), OWNER, "owner@example.com", T0)).toBe(0);
      await failTimes(OWNER, "owner@example.com", 4);
      await on(1).finishSignIn(OWNER, "owner@example.com", "succeeded", T0);
      await failTimes(OWNER, "owner@example.com", 5); // a fresh 5
      expect(await peek(on(0), OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("limits spraying many accounts from one address", async () => {
      for (let i = 0; i < 20; i++) await failTimes(ATTACKER, `user${i}@example.com`, 1);
      await on(1).finishSignIn(ATTACKER, "user20@example.com", "failed", T0);
      expect(await peek(on(0), ATTACKER, "someone-new@example.com", T0)).toBeGreaterThan(0);
      expect(await peek(on(1), OWNER, "someone-new@example.com", T0)).toBe(0);
    });

    it("a botnet on one account slows new addresses, never an address that signed in before (on another instance)", async () => {
      await on(0).finishSignIn(OWNER, "owner@example.com", "succeeded", T0 - 1000);
      for (let i = 0; i < 60; i++) await on(i).finishSignIn(`192.0.2.${i}`, "owner@example.com", "failed", T0);
      expect(await peek(on(0), "192.0.2.200", "owner@example.com", T0)).toBeGreaterThan(0);
      expect(await peek(on(1), OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("forgets failures after an hour without one, and restarts the count there", async () => {
      await failTimes(ATTACKER, "victim@example.com", 5);
      await on(1).finishSignIn(ATTACKER, "victim@example.com", "failed", T0);
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + HOUR - 1000)).toBe(0); // the 30 s have passed
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + HOUR)).toBe(0);
      await failTimes(ATTACKER, "victim@example.com", 5, T0 + HOUR); // a fresh 5, not the 7th to 11th
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + HOUR)).toBe(0);
    });

    it("counts IPv6 clients by their /64", async () => {
      await failTimes("2001:db8:1:2::1", "victim@example.com", 5);
      await on(1).finishSignIn("2001:db8:1:2:ffff::9", "victim@example.com", "failed", T0);
      expect(await peek(on(0), "2001:db8:1:2:abcd::1", "victim@example.com", T0)).toBeGreaterThan(0);
      expect(await peek(on(1), "2001:db8:1:3::1", "victim@example.com", T0)).toBe(0);
    });

    it("a burst of 30 parallel guesses on one address + account, over both instances, gets the same 6 tries as one at a time", async () => {
      const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => on(i).reserveSignIn(ATTACKER, "victim@example.com", T0)));
      const allowed = waits.filter((w) => w === 0).length;
      expect(allowed).toBe(6); // the 5 free failures and the one that starts the 30 s; before the fix all 30
      expect(waits.filter((w) => w > 0).every((w) => w <= 30)).toBe(true);
      // The allowed ones all fail: the 30 s wait starts, and the next burst gets nothing at all.
      await Promise.all(Array.from({ length: allowed }, (_, i) => on(i).finishSignIn(ATTACKER, "victim@example.com", "failed", T0 + 50)));
      const again = await Promise.all(Array.from({ length: 30 }, (_, i) => on(i).reserveSignIn(ATTACKER, "victim@example.com", T0 + 1000)));
      expect(again.filter((w) => w === 0)).toEqual([]);
      // After the wait, one more try per window, however many are sent at once.
      const later = await Promise.all(Array.from({ length: 30 }, (_, i) => on(i).reserveSignIn(ATTACKER, "victim@example.com", T0 + 50 + 30_000)));
      expect(later.filter((w) => w === 0).length).toBe(1);
    });

    it("a parallel burst spraying many accounts from one address gets the address's 21 tries, not more", async () => {
      const waits = await Promise.all(Array.from({ length: 60 }, (_, i) => on(i).reserveSignIn(ATTACKER, `user${i}@example.com`, T0)));
      expect(waits.filter((w) => w === 0).length).toBe(21);
    });

    it("the owner's right password from their known address passes during a parallel burst on their account from elsewhere", async () => {
      await on(0).finishSignIn(OWNER, "owner@example.com", "succeeded", T0 - 1000);
      const burst = Array.from({ length: 80 }, (_, i) => on(i).reserveSignIn(`192.0.2.${i}`, "owner@example.com", T0));
      const owner = on(1).reserveSignIn(OWNER, "owner@example.com", T0);
      const waits = await Promise.all(burst);
      expect(waits.filter((w) => w === 0).length).toBe(51); // the account's 50 free and the one that starts its wait
      expect(await owner).toBe(0);
      await on(1).finishSignIn(OWNER, "owner@example.com", "succeeded", T0);
      expect(await peek(on(0), OWNER, "owner@example.com", T0)).toBe(0); // a success is not a failure
    });

    it("a released or succeeded reservation frees its place; one never finished stops counting after 30 s", async () => {
      for (let i = 0; i < 6; i++) expect(await on(i).reserveSignIn(ATTACKER, "victim@example.com", T0)).toBe(0);
      expect(await on(0).reserveSignIn(ATTACKER, "victim@example.com", T0)).toBe(30); // 6 in flight
      await on(1).finishSignIn(ATTACKER, "victim@example.com", "unchecked", T0);
      expect(await on(0).reserveSignIn(ATTACKER, "victim@example.com", T0)).toBe(0); // the released place, taken again
      expect(await on(1).reserveSignIn(ATTACKER, "victim@example.com", T0 + 29_000)).toBeGreaterThan(0);
      // Nobody finishes (crashed requests): 30 s after the latest reservation they no longer count.
      expect(await peek(on(0), ATTACKER, "victim@example.com", T0 + 30_000)).toBe(0);
    });

    it("store: 30 concurrent reservations on one key, over both instances, with a rule of 5 free: exactly 5 go through", async () => {
      const rule = (counts: Map<string, FailureCount>) => {
        const c = counts.get("k1");
        return (c?.failures ?? 0) + (c?.pending ?? 0) >= 5 ? 30 : 0;
      };
      const waits = await Promise.all(Array.from({ length: 30 }, (_, i) => fx.store(i % 2).reserve(["k1", "k2"], "k1", T0, rule)));
      expect(waits.filter((w) => w === 0).length).toBe(5);
      const seen = await reserveSeeing(fx.store(0), ["k1", "k2"], "k1", T0, () => 1);
      expect(seen.counts).toEqual(
        new Map([
          ["k1", { failures: 0, last: 0, pending: 5 }],
          ["k2", { failures: 0, last: 0, pending: 5 }],
        ]),
      ); // the 25 refused changed nothing
      await Promise.all(Array.from({ length: 5 }, (_, i) => fx.store(i % 2).fail(["k1", "k2"], T0 + 10)));
      expect((await reserveSeeing(fx.store(1), ["k1"], "k1", T0 + 10, () => 1)).counts.get("k1")).toEqual({ failures: 5, last: T0 + 10, pending: 0 });
    });

    it("store: reads only live counters and known keys; a failure restarts a forgotten key at one", async () => {
      const [a, b] = [fx.store(0), fx.store(1)];
      const refuse = () => 1; // read, reserve nothing
      expect(await reserveSeeing(a, ["k1", "k2"], "k1", T0, refuse)).toEqual({ wait: 1, counts: new Map(), known: false });
      await a.fail(["k1", "k2"], T0);
      await b.fail(["k1"], T0 + 1000);
      expect((await reserveSeeing(b, ["k1", "k2", "k3"], "k3", T0 + 1000, refuse)).counts).toEqual(
        new Map([
          ["k1", { failures: 2, last: T0 + 1000, pending: 0 }],
          ["k2", { failures: 1, last: T0, pending: 0 }],
        ]),
      );
      expect((await reserveSeeing(a, ["k1", "k2"], "k1", T0 + HOUR, refuse)).counts).toEqual(new Map([["k1", { failures: 2, last: T0 + 1000, pending: 0 }]]));
      await a.fail(["k1"], T0 + 1000 + HOUR);
      expect((await reserveSeeing(b, ["k1"], "k1", T0 + 1000 + HOUR, refuse)).counts.get("k1")).toEqual({ failures: 1, last: T0 + 1000 + HOUR, pending: 0 });
      expect(await reserveSeeing(a, ["k1"], "k1", T0 + 2 * HOUR)).toMatchObject({ wait: 0 }); // in flight …
      expect((await reserveSeeing(b, ["k1"], "k1", T0 + 2 * HOUR, refuse)).counts.get("k1")?.pending).toBe(1);
      await b.succeed("k1", T0 + 2 * HOUR); // … and cleared with the failures
      expect(await reserveSeeing(a, ["k1"], "k1", T0 + 2 * HOUR, refuse)).toEqual({ wait: 1, counts: new Map(), known: true });
      expect((await reserveSeeing(a, [], "k1", T0 + 2 * HOUR + 30 * 24 * HOUR, refuse)).known).toBe(false); // remembered 30 days
      await a.reserve(["k2"], "k2", T0 + 3 * HOUR, () => 0);
      await b.release(["k2"], T0 + 3 * HOUR);
      await b.release(["k2"], T0 + 3 * HOUR); // never below zero
      expect((await reserveSeeing(a, ["k2"], "k2", T0 + 3 * HOUR, refuse)).counts).toEqual(new Map());
    });

    it("limits sign-ups per client address (50 an hour), across instances", async () => {
      for (let i = 0; i < 50; i++) expect(await on(i).takeSignUpAttempt("203.0.113.7", T0)).toBe(0);
      expect(await on(0).takeSignUpAttempt("203.0.113.7", T0)).toBeGreaterThan(0);
      expect(await on(1).takeSignUpAttempt("203.0.113.8", T0)).toBe(0);
      expect(await on(1).takeSignUpAttempt("203.0.113.7", T0 + HOUR)).toBe(0);
    });

    it("limits mails per recipient (3 an hour) and per address (20 an hour), across instances", async () => {
      for (let i = 0; i < 3; i++) expect(await on(i).takeMailRequest(`203.0.113.${i}`, "victim@example.com", T0)).toBe(0);
      expect(await on(1).takeMailRequest("203.0.113.99", "Victim@example.com", T0)).toBeGreaterThan(0);
      for (let i = 0; i < 20; i++) expect(await on(i).takeMailRequest("198.51.100.1", `u${i}@example.com`, T0)).toBe(0);
      expect(await on(0).takeMailRequest("198.51.100.1", "u99@example.com", T0)).toBeGreaterThan(0);
    });
  });
}
