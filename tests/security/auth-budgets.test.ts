import crypto from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { freshAddress, newPerson, PASSWORD, signInFrom, signUpFrom, uniqueEmail } from "./auth-support";

/**
 * Attack: lockout and spraying (docs/security.md, "Sign-in and sign-up budgets"). The sign-in
 * budget was per email and counted successes (11 wrong passwords locked the real owner out); the
 * sign-up budget believed a client-supplied X-Forwarded-For. Each "machine" below is its own
 * loopback source address; the suite's server has no TRUSTED_PROXIES.
 */
const base = inject("baseUrl");
const randomIp = () => `${1 + crypto.randomInt(220)}.${crypto.randomInt(256)}.${crypto.randomInt(256)}.${1 + crypto.randomInt(254)}`;
const TOO_MANY = /Too many failed sign-ins; try again in \d+ (s|min)\./;

describe("sign-in budget", () => {
  it("11 wrong passwords from an attacker's machine do not lock the owner out of their own", async () => {
    const owner = await newPerson(base);
    const attacker = freshAddress();
    const answers: string[] = [];
    for (let i = 0; i < 11; i++) answers.push((await signInFrom(base, attacker, owner.email, `wrong password ${i}`)).value?.error);
    expect(answers.slice(0, 5)).toEqual(Array(5).fill("Wrong email or password."));
    expect(answers.slice(6).every((a) => TOO_MANY.test(a))).toBe(true); // backing off
    // Even the right password is refused to the attacker's machine while it backs off …
    const blocked = await signInFrom(base, attacker, owner.email, PASSWORD);
    expect(blocked.cookie).toBeNull();
    expect(blocked.value.error).toMatch(TOO_MANY);
    // … but the owner, from their machine, signs in at once.
    const ok = await signInFrom(base, owner.from, owner.email, PASSWORD);
    expect(ok.cookie).not.toBeNull();
    expect(ok.redirect).toBe("/");
  });

  it("20 wrong passwords fired at once get the same 6 checks as one after another, and the right one is then refused too", async () => {
    const victim = await newPerson(base);
    const attacker = freshAddress();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => signInFrom(base, attacker, victim.email, `parallel guess ${i}`)));
    const answers = burst.map((r) => r.value?.error as string);
    const checked = answers.filter((a) => a === "Wrong email or password.").length;
    // Reserved before the password check (lib/auth/attempt-limits.ts): at most the 5 free failures
    // and the one that starts the 30 s wait are checked; before, all 20 were.
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(6);
    expect(answers.filter((a) => TOO_MANY.test(a)).length).toBe(20 - checked);
    expect(burst.every((r) => r.cookie === null)).toBe(true);
    // The right password from the attacker's machine is refused unchecked while the wait lasts …
    const blocked = await signInFrom(base, attacker, victim.email, PASSWORD);
    expect(blocked.cookie).toBeNull();
    expect(blocked.value.error).toMatch(TOO_MANY);
    // … and the owner, from their own machine, is not locked out by it.
    expect((await signInFrom(base, victim.from, victim.email, PASSWORD)).cookie).not.toBeNull();
  });

  it("a spoofed X-Forwarded-For (or our internal client-address header) does not reset the budget", async () => {
    const victim = await newPerson(base);
    const attacker = freshAddress();
    for (let i = 0; i < 6; i++) {
      const r = await signInFrom(base, attacker, victim.email, `guess ${i}`, { "x-forwarded-for": randomIp(), "x-real-ip": randomIp() });
      expect(r.cookie).toBeNull();
    }
    const spoofs: Array<Record<string, string>> = [{ "x-forwarded-for": randomIp() }, { "x-forwarded-for": `${randomIp()}, ${randomIp()}` }, { "x-cm-client-address": randomIp() }, { forwarded: `for=${randomIp()}` }];
    for (const headers of spoofs) {
      const r = await signInFrom(base, attacker, victim.email, "one more guess", headers);
      expect(r.value.error, JSON.stringify(headers)).toMatch(TOO_MANY);
    }
  });

  it("successes do not count: the owner signs in again and again", async () => {
    const owner = await newPerson(base);
    for (let i = 0; i < 15; i++) {
      const r = await signInFrom(base, owner.from, owner.email, PASSWORD);
      expect(r.cookie, `sign-in ${i + 1}`).not.toBeNull();
    }
    // And failures after successes still get their free tries.
    for (let i = 0; i < 5; i++) expect((await signInFrom(base, owner.from, owner.email, "typo typo")).value.error).toBe("Wrong email or password.");
    expect((await signInFrom(base, owner.from, owner.email, PASSWORD)).cookie).not.toBeNull();
  });
});

describe("sign-up budget", () => {
  it("counts the socket's address: 50 accounts an hour per machine, whatever X-Forwarded-For says", async () => {
    const machine = freshAddress();
    for (let i = 0; i < 50; i++) {
      const r = await signUpFrom(base, machine, uniqueEmail(`bulk${i}`), PASSWORD, { "x-forwarded-for": randomIp() });
      expect(r.cookie, `sign-up ${i + 1}`).not.toBeNull();
    }
    const refused = await signUpFrom(base, machine, uniqueEmail("bulk-extra"), PASSWORD, { "x-forwarded-for": randomIp() });
    expect(refused.cookie).toBeNull();
    expect(refused.value.error).toMatch(/Too many new accounts from this address/);
    // Another machine is not affected.
    expect((await signUpFrom(base, freshAddress(), uniqueEmail("elsewhere"))).cookie).not.toBeNull();
  });
});
