import { describe, expect, it } from "vitest";
import { parseEnv } from "../env";
import { secureCookies } from "./accounts";

describe("Secure session cookie", () => {
  const env = (vars: Record<string, string>) => parseEnv({ DATA_DIR: "/tmp/cm-unused", ...vars });

  it("is Secure whenever NODE_ENV=production, unless the origin is plain-http loopback", () => {
    expect(secureCookies(env({ NODE_ENV: "production" }))).toBe(false); // default origin http://localhost:8000
    expect(secureCookies(env({ NODE_ENV: "production", BETTER_AUTH_URL: "http://127.0.0.1:8000" }))).toBe(false);
    expect(secureCookies(env({ NODE_ENV: "production", BETTER_AUTH_URL: "http://costs.example.com" }))).toBe(true); // TLS ends at a proxy
    expect(secureCookies(env({ NODE_ENV: "production", BETTER_AUTH_URL: "http://localhost.example.com" }))).toBe(true);
    expect(secureCookies(env({ NODE_ENV: "production", BETTER_AUTH_URL: "https://costs.example.com" }))).toBe(true);
  });

  it("follows the origin outside production", () => {
    expect(secureCookies(env({ NODE_ENV: "development", BETTER_AUTH_URL: "http://costs.example.com" }))).toBe(false);
    expect(secureCookies(env({ NODE_ENV: "development", BETTER_AUTH_URL: "https://costs.example.com" }))).toBe(true);
  });
});
