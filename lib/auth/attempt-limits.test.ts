import { describe, expect, it } from "vitest";
import { clientAddressOf, takeSignInAttempt, takeSignUpAttempt } from "./attempt-limits";

describe("password-guessing budgets", () => {
  it("allows 10 sign-in attempts per email per 15 minutes, per email, case-insensitively", () => {
    const t0 = 1_000_000;
    for (let i = 0; i < 10; i++) expect(takeSignInAttempt("Victim@example.com", t0 + i)).toBe(0);
    const wait = takeSignInAttempt("victim@example.com", t0 + 10);
    expect(wait).toBeGreaterThan(14 * 60);
    expect(takeSignInAttempt("other@example.com", t0 + 10)).toBe(0);
    expect(takeSignInAttempt("victim@example.com", t0 + 15 * 60_000)).toBe(0);
  });

  it("limits sign-ups per client address", () => {
    for (let i = 0; i < 50; i++) expect(takeSignUpAttempt("203.0.113.7", 5_000_000)).toBe(0);
    expect(takeSignUpAttempt("203.0.113.7", 5_000_000)).toBeGreaterThan(0);
    expect(takeSignUpAttempt("203.0.113.8", 5_000_000)).toBe(0);
  });

  it("takes the first X-Forwarded-For hop", () => {
    expect(clientAddressOf(new Headers({ "x-forwarded-for": "198.51.100.1, 10.0.0.1" }))).toBe("198.51.100.1");
    expect(clientAddressOf(new Headers())).toBe("local");
  });
});
