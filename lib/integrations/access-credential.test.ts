import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminOf, makeCore, rejectionOf, SYSTEM_ACTOR, viewerOf, type TestCore } from "@/tests/support/core-deps";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { FAKE_OPENAI_ADMIN_KEY } from "@/tests/fakes/keys";
import type { Actor } from "../auth/actor";
import { SqliteAuthStore } from "../auth/auth-store-sqlite";
import { AppError } from "../errors";
import { accessCredential } from "./access-credential";
import { clearAuthenticationCache } from "./authenticate";
import { setupIntegration } from "./setup-integration";

/** accessCredential: who may call it, which credentials it hands out, and the per-key budget (fake clock). */
let openai: OpenAIFake;
let core: TestCore;
const pipelineOf = (org: string, keyId = "pipe1"): Actor => ({ kind: "api_key", org, role: "pipeline", keyId });

beforeAll(async () => {
  openai = await startOpenAIFake();
  core = await makeCore({ env: { OPENAI_API_BASE: openai.url, ACCESS_RATE_LIMIT_PER_MINUTE: "3", CONNECTION_TEST_TIMEOUT_MS: "3000" } });
  await core.addOrg("acme");
  await core.addOrg("other");
  await setupIntegration({ actor: SYSTEM_ACTOR, org: "acme", provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
});
afterAll(async () => {
  clearAuthenticationCache();
  await core.close();
  await openai.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  const e = await rejectionOf(p);
  expect(e).toBeInstanceOf(AppError);
  return (e as AppError).code;
}

describe("accessCredential", () => {
  it("answers a pipeline key of the org only: admin, viewer, user and CLI actors get forbidden; another org's pipeline key org_not_found", async () => {
    const ok = await accessCredential({ actor: pipelineOf("acme", "who-1"), org: "acme", provider: "openai" }, core.deps);
    expect(ok).toMatchObject({ org: "acme", provider: "openai", version: 1, kind: "api_key", expires_at: null, credentials: { api_key: FAKE_OPENAI_ADMIN_KEY } });
    expect(ok.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    const user: Actor = { kind: "user", userId: "u1", email: "a@example.com" };
    for (const actor of [adminOf("acme"), viewerOf("acme"), user, SYSTEM_ACTOR]) {
      expect(await code(accessCredential({ actor, org: "acme", provider: "openai" }, core.deps))).toBe("forbidden");
    }
    expect(await code(accessCredential({ actor: null, org: "acme", provider: "openai" }, core.deps))).toBe("unauthenticated");
    expect(await code(accessCredential({ actor: pipelineOf("other", "who-2"), org: "acme", provider: "openai" }, core.deps))).toBe("org_not_found");
    expect(await code(accessCredential({ actor: pipelineOf("acme", "who-3"), org: "other", provider: "openai" }, core.deps))).toBe("org_not_found");
    expect(await code(accessCredential({ actor: pipelineOf("other", "who-4"), org: "other", provider: "openai" }, core.deps))).toBe("integration_not_found");
  });

  it("a pipeline key is refused by every other use case's authorization (read and write)", async () => {
    const { authorizeOrgOrThrow } = await import("../auth/authorize");
    for (const action of ["read", "write"] as const) {
      expect(await code(authorizeOrgOrThrow(core.deps, pipelineOf("acme"), "acme", action))).toBe("forbidden");
    }
  });

  it("spends one unit of the key's own budget per call: the 4th in a minute is rate_limited, another key is not, a minute later it works", async () => {
    const key = pipelineOf("acme", "budget-a");
    for (let i = 0; i < 3; i++) await accessCredential({ actor: key, org: "acme", provider: "openai" }, core.deps);
    const e = await rejectionOf(accessCredential({ actor: key, org: "acme", provider: "openai" }, core.deps));
    expect((e as AppError).code).toBe("rate_limited");
    expect((e as AppError).extra.retryAfterS).toBeGreaterThan(0);
    await accessCredential({ actor: pipelineOf("acme", "budget-b"), org: "acme", provider: "openai" }, core.deps);
    core.clock.advance(60_000);
    await accessCredential({ actor: key, org: "acme", provider: "openai" }, core.deps);
  });

  it("an integration that is not active is integration_not_found", async () => {
    const row = (await core.deps.store.get("acme", "openai"))!;
    await core.deps.store.update("acme", "openai", row.version, { status: "invalid", updatedAt: new Date(core.clock.now()).toISOString() }, { credentialId: row.credentialId });
    core.deps.cache.invalidate("acme", "openai");
    expect(await code(accessCredential({ actor: pipelineOf("acme", "inactive"), org: "acme", provider: "openai" }, core.deps))).toBe("integration_not_found");
  });
});

describe("SQLite auth store made before the pipeline role", () => {
  it("widens the role check once, keeping every key", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-role-"));
    const file = path.join(dir, "auth.sqlite");
    const old = new Database(file);
    old.exec(`
      CREATE TABLE orgs (slug TEXT PRIMARY KEY, name TEXT NOT NULL, external_id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
      CREATE TABLE org_api_keys (id TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(slug) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')), label TEXT, secret_hash BLOB NOT NULL,
        created_at TEXT NOT NULL, last_used_at TEXT, revoked_at TEXT);
      INSERT INTO orgs VALUES ('acme', 'Acme', 'cm-x', '2026-01-01T00:00:00.000Z');
      INSERT INTO org_api_keys VALUES ('aaaaaaaaaaaa', 'acme', 'admin', 'old', x'00', '2026-01-01T00:00:00.000Z', NULL, NULL);
    `);
    expect(() => old.prepare("INSERT INTO org_api_keys VALUES ('bbbbbbbbbbbb', 'acme', 'pipeline', NULL, x'00', 'x', NULL, NULL)").run()).toThrow(/CHECK/);
    old.close();
    const store = new SqliteAuthStore(file);
    const made = await store.createApiKey("acme", "pipeline", "p", new Date());
    expect(made.record.role).toBe("pipeline");
    expect((await store.verifyApiKey(made.apiKey, new Date()))?.role).toBe("pipeline");
    expect((await store.listApiKeys("acme")).map((k) => k.label)).toEqual(["old", "p"]);
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
