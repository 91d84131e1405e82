import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AttemptLimits } from "./attempt-limits";
import type { SignInFailureStore } from "./sign-in-failures";

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
        expect(await on(i).signInWait(addr, email, now)).toBe(0);
        await on(i + 1).recordSignIn(addr, email, false, now);
      }
    }

    it("allows 5 failures from an address, then backs off exponentially (30 s, 1 min, 2 min … 15 min), whichever instance is asked", async () => {
      await failTimes(ATTACKER, "victim@example.com", 5);
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0)).toBe(0);
      await on(1).recordSignIn(ATTACKER, "victim@example.com", false, T0); // 6th
      expect(await on(0).signInWait(ATTACKER, "Victim@Example.com", T0)).toBe(30);
      expect(await on(1).signInWait(ATTACKER, "victim@example.com", T0)).toBe(30);
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0 + 29_500)).toBe(1);
      expect(await on(1).signInWait(ATTACKER, "victim@example.com", T0 + 30_000)).toBe(0);
      await on(0).recordSignIn(ATTACKER, "victim@example.com", false, T0 + 30_000); // 7th
      expect(await on(1).signInWait(ATTACKER, "victim@example.com", T0 + 30_000)).toBe(60);
      await on(1).recordSignIn(ATTACKER, "victim@example.com", false, T0 + 90_000); // 8th
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0 + 90_000)).toBe(120);
      for (let i = 0; i < 20; i++) await on(i).recordSignIn(ATTACKER, "victim@example.com", false, T0 + 100_000);
      expect(await on(1).signInWait(ATTACKER, "victim@example.com", T0 + 100_000)).toBe(15 * 60); // capped
    });

    it("an attacker alternating between instances gets no more tries than on one: 6, then a wait", async () => {
      let tries = 0;
      for (let i = 0; i < 40; i++) {
        if ((await on(i).signInWait(ATTACKER, "victim@example.com", T0)) > 0) break;
        await on(i).recordSignIn(ATTACKER, "victim@example.com", false, T0);
        tries++;
      }
      expect(tries).toBe(6);
    });

    it("concurrent failures on both instances are all counted, none twice (20 free per address, then a wait)", async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => on(i).recordSignIn(ATTACKER, `user${i}@example.com`, false, T0)));
      expect(await on(0).signInWait(ATTACKER, "someone-new@example.com", T0)).toBe(0); // exactly 20: none counted twice
      await on(1).recordSignIn(ATTACKER, "user20@example.com", false, T0);
      expect(await on(0).signInWait(ATTACKER, "someone-new@example.com", T0)).toBe(30); // the 21st: none was lost
    });

    it("does not lock the owner out from their own address after 11 wrong passwords from an attacker's", async () => {
      await failTimes(ATTACKER, "owner@example.com", 5);
      for (let i = 0; i < 6; i++) await on(i).recordSignIn(ATTACKER, "owner@example.com", false, T0);
      expect(await on(0).signInWait(ATTACKER, "owner@example.com", T0)).toBeGreaterThan(0);
      expect(await on(1).signInWait(OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("does not count successes, and a success clears the address + account failures", async () => {
      for (let i = 0; i < 50; i++) await on(i).recordSignIn(OWNER, "owner@example.com", true, T0);
      expect(await on(0).signInWait(OWNER, "owner@example.com", T0)).toBe(0);
      await failTimes(OWNER, "owner@example.com", 4);
      await on(1).recordSignIn(OWNER, "owner@example.com", true, T0);
      await failTimes(OWNER, "owner@example.com", 5); // a fresh 5
      expect(await on(0).signInWait(OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("limits spraying many accounts from one address", async () => {
      for (let i = 0; i < 20; i++) await failTimes(ATTACKER, `user${i}@example.com`, 1);
      await on(1).recordSignIn(ATTACKER, "user20@example.com", false, T0);
      expect(await on(0).signInWait(ATTACKER, "someone-new@example.com", T0)).toBeGreaterThan(0);
      expect(await on(1).signInWait(OWNER, "someone-new@example.com", T0)).toBe(0);
    });

    it("a botnet on one account slows new addresses, never an address that signed in before (on another instance)", async () => {
      await on(0).recordSignIn(OWNER, "owner@example.com", true, T0 - 1000);
      for (let i = 0; i < 60; i++) await on(i).recordSignIn(`192.0.2.${i}`, "owner@example.com", false, T0);
      expect(await on(0).signInWait("192.0.2.200", "owner@example.com", T0)).toBeGreaterThan(0);
      expect(await on(1).signInWait(OWNER, "owner@example.com", T0)).toBe(0);
    });

    it("forgets failures after an hour without one, and restarts the count there", async () => {
      await failTimes(ATTACKER, "victim@example.com", 5);
      await on(1).recordSignIn(ATTACKER, "victim@example.com", false, T0);
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0 + HOUR - 1000)).toBe(0); // the 30 s have passed
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0 + HOUR)).toBe(0);
      await failTimes(ATTACKER, "victim@example.com", 5, T0 + HOUR); // a fresh 5, not the 7th to 11th
      expect(await on(0).signInWait(ATTACKER, "victim@example.com", T0 + HOUR)).toBe(0);
    });

    it("counts IPv6 clients by their /64", async () => {
      await failTimes("2001:db8:1:2::1", "victim@example.com", 5);
      await on(1).recordSignIn("2001:db8:1:2:ffff::9", "victim@example.com", false, T0);
      expect(await on(0).signInWait("2001:db8:1:2:abcd::1", "victim@example.com", T0)).toBeGreaterThan(0);
      expect(await on(1).signInWait("2001:db8:1:3::1", "victim@example.com", T0)).toBe(0);
    });

    it("store: reads only live counters and known keys; a failure restarts a forgotten key at one", async () => {
      const [a, b] = [fx.store(0), fx.store(1)];
      expect(await a.read(["k1", "k2"], "k1", T0)).toEqual({ counts: new Map(), known: false });
      await a.fail(["k1", "k2"], T0);
      await b.fail(["k1"], T0 + 1000);
      expect((await b.read(["k1", "k2", "k3"], "k3", T0 + 1000)).counts).toEqual(
        new Map([
          ["k1", { failures: 2, last: T0 + 1000 }],
          ["k2", { failures: 1, last: T0 }],
        ]),
      );
      expect((await a.read(["k1", "k2"], "k1", T0 + HOUR)).counts).toEqual(new Map([["k1", { failures: 2, last: T0 + 1000 }]]));
      await a.fail(["k1"], T0 + 1000 + HOUR);
      expect((await b.read(["k1"], "k1", T0 + 1000 + HOUR)).counts.get("k1")).toEqual({ failures: 1, last: T0 + 1000 + HOUR });
      await b.succeed("k1", T0 + 2 * HOUR);
      expect(await a.read(["k1"], "k1", T0 + 2 * HOUR)).toEqual({ counts: new Map(), known: true });
      expect((await a.read([], "k1", T0 + 2 * HOUR + 30 * 24 * HOUR)).known).toBe(false); // remembered 30 days
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
