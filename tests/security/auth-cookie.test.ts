import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startStack, type Stack } from "../support/stack";
import { freshAddress, signUpFrom, uniqueEmail } from "./auth-support";

/**
 * Default: the session cookie is `Secure` whenever NODE_ENV=production, unless the public origin is
 * plain-http loopback (docs/security.md, "Session cookie"). It used to be Secure only when
 * BETTER_AUTH_URL began with https, so a TLS-terminating proxy in front of an http origin left it
 * plain. Both servers here run with NODE_ENV=production.
 */
const PORT = Number(process.env.SECURITY_COOKIE_PORT ?? 8261);
let proxied: Stack;

beforeAll(async () => {
  proxied = await startStack({ port: PORT, cloudPortBase: PORT + 100, env: { BETTER_AUTH_URL: "http://costs.example.test" } });
}, 90_000);

afterAll(async () => {
  await proxied?.stop();
});

describe("session cookie", () => {
  it("is Secure (and __Secure- prefixed) in production behind an http origin that is not localhost", async () => {
    const r = await signUpFrom(proxied.baseUrl, freshAddress(), uniqueEmail("secure"));
    const line = r.setCookieLines.find((l) => l.includes("cm.session_token="));
    expect(line).toBeDefined();
    expect(line).toMatch(/^__Secure-cm\.session_token=/);
    expect(line).toMatch(/;\s*Secure/i);
    expect(line).toMatch(/;\s*HttpOnly/i);
    expect(line).toMatch(/;\s*SameSite=Lax/i);
  });

  it("stays usable on a local run (origin http://localhost): HttpOnly, not Secure", async () => {
    const r = await signUpFrom(inject("baseUrl"), freshAddress(), uniqueEmail("local"));
    const line = r.setCookieLines.find((l) => l.includes("cm.session_token="));
    expect(line).toMatch(/^cm\.session_token=/);
    expect(line).not.toMatch(/;\s*Secure/i);
    expect(line).toMatch(/;\s*HttpOnly/i);
  });
});
