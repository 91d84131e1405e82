import { beforeEach, describe, expect, it } from "vitest";
import { recordSignIn, resetAttemptLimitsForTests, signInWait, takeMailRequest, takeSignUpAttempt } from "./attempt-limits";

const T0 = 1_000_000_000;
const ATTACKER = "203.0.113.66";
const OWNER = "198.51.100.10";

function failTimes(addr: string, email: string, n: number, now = T0) {
  for (let i = 0; i < n; i++) {
    expect(signInWait(addr, email, now)).toBe(0);
    recordSignIn(addr, email, false, now);
  }
}

describe("sign-in budget: failures only, per address + account, with backoff", () => {
  beforeEach(() => resetAttemptLimitsForTests());

  it("allows 5 failures from an address, then backs off exponentially (30 s, 1 min, 2 min …)", () => {
    failTimes(ATTACKER, "victim@example.com", 5);
    expect(signInWait(ATTACKER, "victim@example.com", T0)).toBe(0);
    recordSignIn(ATTACKER, "victim@example.com", false, T0); // 6th
    expect(signInWait(ATTACKER, "Victim@Example.com", T0)).toBe(30);
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 29_500)).toBe(1);
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 30_000)).toBe(0);
    recordSignIn(ATTACKER, "victim@example.com", false, T0 + 30_000); // 7th
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 30_000)).toBe(60);
    recordSignIn(ATTACKER, "victim@example.com", false, T0 + 90_000); // 8th
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 90_000)).toBe(120);
    for (let i = 0; i < 20; i++) recordSignIn(ATTACKER, "victim@example.com", false, T0 + 100_000);
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 100_000)).toBe(15 * 60); // capped
  });

  it("does not lock the owner out from their own address after 11 wrong passwords from an attacker's", () => {
    failTimes(ATTACKER, "owner@example.com", 5);
    for (let i = 0; i < 6; i++) recordSignIn(ATTACKER, "owner@example.com", false, T0);
    expect(signInWait(ATTACKER, "owner@example.com", T0)).toBeGreaterThan(0);
    expect(signInWait(OWNER, "owner@example.com", T0)).toBe(0);
  });

  it("does not count successes, and a success clears the address + account failures", () => {
    for (let i = 0; i < 50; i++) recordSignIn(OWNER, "owner@example.com", true, T0);
    expect(signInWait(OWNER, "owner@example.com", T0)).toBe(0);
    failTimes(OWNER, "owner@example.com", 4);
    recordSignIn(OWNER, "owner@example.com", true, T0);
    failTimes(OWNER, "owner@example.com", 5); // a fresh 5
    expect(signInWait(OWNER, "owner@example.com", T0)).toBe(0);
  });

  it("limits spraying many accounts from one address", () => {
    for (let i = 0; i < 20; i++) failTimes(ATTACKER, `user${i}@example.com`, 1);
    recordSignIn(ATTACKER, "user20@example.com", false, T0);
    expect(signInWait(ATTACKER, "someone-new@example.com", T0)).toBeGreaterThan(0);
    expect(signInWait(OWNER, "someone-new@example.com", T0)).toBe(0);
  });

  it("a botnet on one account slows new addresses, never an address that signed in before", () => {
    recordSignIn(OWNER, "owner@example.com", true, T0 - 1000);
    for (let i = 0; i < 60; i++) recordSignIn(`192.0.2.${i}`, "owner@example.com", false, T0);
    expect(signInWait("192.0.2.200", "owner@example.com", T0)).toBeGreaterThan(0);
    expect(signInWait(OWNER, "owner@example.com", T0)).toBe(0);
  });

  it("forgets failures after an hour without one", () => {
    failTimes(ATTACKER, "victim@example.com", 5);
    recordSignIn(ATTACKER, "victim@example.com", false, T0);
    expect(signInWait(ATTACKER, "victim@example.com", T0 + 3_600_000)).toBe(0);
  });

  it("counts IPv6 clients by their /64", () => {
    failTimes("2001:db8:1:2::1", "victim@example.com", 5);
    recordSignIn("2001:db8:1:2:ffff::9", "victim@example.com", false, T0);
    expect(signInWait("2001:db8:1:2:abcd::1", "victim@example.com", T0)).toBeGreaterThan(0);
    expect(signInWait("2001:db8:1:3::1", "victim@example.com", T0)).toBe(0);
  });
});

describe("sign-up and mail budgets", () => {
  beforeEach(() => resetAttemptLimitsForTests());

  it("limits sign-ups per client address", () => {
    for (let i = 0; i < 50; i++) expect(takeSignUpAttempt("203.0.113.7", T0)).toBe(0);
    expect(takeSignUpAttempt("203.0.113.7", T0)).toBeGreaterThan(0);
    expect(takeSignUpAttempt("203.0.113.8", T0)).toBe(0);
  });

  it("limits mails per recipient (3 an hour) and per address (20 an hour)", () => {
    for (let i = 0; i < 3; i++) expect(takeMailRequest(`203.0.113.${i}`, "victim@example.com", T0)).toBe(0);
    expect(takeMailRequest("203.0.113.99", "victim@example.com", T0)).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) expect(takeMailRequest("198.51.100.1", `u${i}@example.com`, T0)).toBe(0);
    expect(takeMailRequest("198.51.100.1", "u99@example.com", T0)).toBeGreaterThan(0);
  });
});
