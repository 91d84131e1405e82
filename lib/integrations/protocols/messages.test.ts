import net from "node:net";
import { describe, expect, it } from "vitest";
import { AppError } from "../../errors";
import { resolveProvider } from "../registry";
import { assertTestPassedOrThrow, failureMessage } from "./index";
import { testOpenAI } from "./openai";
import { testGemini } from "./gemini";
import type { ConnectionTestContext, ConnectionTestResult } from "./types";

/** Results that read right: a skipped check says why; the error message says each thing once. */
async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function ctx(provider: string, credential: Record<string, unknown>, base: string): ConnectionTestContext {
  const def = resolveProvider(provider)!;
  return {
    provider,
    providerName: def.name,
    credential,
    endpoints: { api_base: base },
    timeoutMs: 2000,
    fetch: globalThis.fetch,
    pace: async () => {},
    now: Date.now,
    org: "acme",
    externalId: "x",
    definition: def,
  };
}

function thrown(result: ConnectionTestResult, name: string): AppError {
  try {
    assertTestPassedOrThrow(result, name);
  } catch (e) {
    return e as AppError;
  }
  throw new Error("did not throw");
}

describe("connection test messages", () => {
  for (const [provider, credential] of [
    ["openai", { api_key: "sk-admin-" + "a".repeat(40) }],
    ["openai", { api_key: "sk-proj-" + "a".repeat(40) }],
    ["gemini", { api_key: "AQ." + "a".repeat(40) }],
  ] as const) {
    it(`${provider}: an unreachable provider is said once, and a check skipped after it says why (not "manual entry")`, async () => {
      const base = await closedPortUrl();
      const run = provider === "openai" ? testOpenAI : testGemini;
      const result = await run(ctx(provider, { ...credential }, base));
      expect(result.outcome).toBe("network");
      const skipped = result.checks.filter((c) => c.outcome === "skipped");
      for (const c of skipped) {
        expect(c.message).toBeTruthy();
        expect(c.message).not.toMatch(/manual/i);
      }
      if (provider === "openai") expect(skipped[0]?.message).toMatch(/authenticate check did not pass/);

      const name = resolveProvider(provider)!.name;
      const err = thrown(result, name);
      expect(err.code).toBe("provider_unreachable");
      expect(err.message).not.toMatch(/could not be reached: Could not reach/i);
      // The provider is named once, and the failing check's message is the whole message.
      expect(err.message.split(name).length - 1).toBe(1);
      expect(err.message).toBe(result.checks.find((c) => c.outcome === "network")!.message);
    });
  }

  it("a message that does not name the provider gets it as a prefix, once", () => {
    const result: ConnectionTestResult = {
      outcome: "auth_failed",
      duration_ms: 1,
      account: null,
      key_kind: null,
      checks: [{ name: "authenticate", outcome: "auth_failed", duration_ms: 1, message: "The key was rejected." }],
    };
    expect(failureMessage(result, "Acme AI")).toBe("Acme AI: The key was rejected.");
    expect(thrown(result, "Acme AI").code).toBe("connection_test_failed");
  });
});
