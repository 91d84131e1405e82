import crypto from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { FAKE_ANTHROPIC_ADMIN_KEY, FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_INVALID_KEY } from "@/tests/fakes/keys";
import { startAnthropicFake, type AnthropicFake } from "@/tests/fakes/anthropic";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { parseEnv } from "../env";
import { RevalidationScheduler, runRevalidationRound } from "./scheduler";
import { SqliteRoundLease } from "./scheduler-lease";
import { setupIntegration } from "./setup-integration";
import { createWebhook } from "../webhooks/create-webhook";

/**
 * Scheduled re-validation: exactly one instance per round (two schedulers on one auth.sqlite),
 * only active credentials, paced by the registry's per-provider rate, status changed only on a
 * provider verdict. Fake clock; `sleep` advances it.
 */
let openai: OpenAIFake;
let anthropic: AnthropicFake;
let core: TestCore;
const EVERY = 60_000;
const sleeps: number[] = [];
const sleep = async (ms: number) => {
  sleeps.push(ms);
  core.clock.advance(ms);
};

async function storeRevokedOpenAI(org: string) {
  // A key that worked once and that OpenAI now rejects (stored directly, as if revoked since).
  const deps = core.deps;
  const credential = { api_key: FAKE_OPENAI_INVALID_KEY };
  const credentialId = crypto.randomUUID();
  const enc = await deps.cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org, provider: "openai", credentialId });
  const at = new Date(core.clock.now()).toISOString();
  await deps.store.put(
    { org, provider: "openai", credentialId, ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion, fingerprint: fingerprintOf(canonicalize(credential), deps.pepper), status: "active", keyKind: "admin", metadata: {}, account: null, version: 1, createdAt: at, updatedAt: at, lastValidatedAt: at, lastError: null },
    null,
  );
}

beforeAll(async () => {
  openai = await startOpenAIFake();
  anthropic = await startAnthropicFake();
  core = await makeCore({ env: { OPENAI_API_BASE: openai.url, ANTHROPIC_API_BASE: anthropic.url, CONNECTION_TEST_TIMEOUT_MS: "3000", WEBHOOK_ALLOW_PRIVATE: "1" } });
  for (const org of ["a-org", "b-org", "c-org"]) await core.addOrg(org);
  await setupIntegration({ actor: SYSTEM_ACTOR, org: "a-org", provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
  await setupIntegration({ actor: SYSTEM_ACTOR, org: "b-org", provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
  await setupIntegration({ actor: SYSTEM_ACTOR, org: "b-org", provider: "anthropic", input: { credential: { api_key: FAKE_ANTHROPIC_ADMIN_KEY } } }, core.deps);
  await storeRevokedOpenAI("c-org");
});
afterAll(async () => {
  await core.close();
  await openai.close();
  await anthropic.close();
});

describe("scheduled re-validation", () => {
  it("two instances on one auth database: exactly one runs each round; the revoked key becomes invalid on the provider's verdict", async () => {
    const file = path.join(core.dataDir, "auth.sqlite");
    const [l1, l2] = [new SqliteRoundLease(file), new SqliteRoundLease(file)];
    const s1 = new RevalidationScheduler(core.deps, l1, EVERY, { sleep });
    const s2 = new RevalidationScheduler(core.deps, l2, EVERY, { sleep });
    const hook = await createWebhook(
      { actor: { kind: "api_key", org: "c-org", role: "admin", keyId: "k" }, org: "c-org", input: { url: "http://127.0.0.1:9/hook", events: ["integration.status_changed"] } },
      core.deps,
    );
    const before = openai.requests.length;
    const [r1, r2] = await Promise.all([s1.tick(), s2.tick()]);
    expect([r1, r2].filter((r) => r !== null)).toHaveLength(1);
    const report = (r1 ?? r2)!;
    expect(report).toMatchObject({ validated: 4, changed: 1, errors: 0 });
    expect(openai.requests.length).toBeGreaterThan(before);
    expect((await core.deps.store.get("c-org", "openai"))!.status).toBe("invalid");
    expect((await core.deps.store.get("a-org", "openai"))!.status).toBe("active");
    // Like any validate: the change is notified, and audited with the scheduler as the actor.
    const deliveries = await core.deps.webhooks.listDeliveries("c-org", hook.id, 10);
    expect(deliveries.map((d) => d.event)).toEqual(["integration.status_changed"]);
    const events = await core.deps.audit.store.list("c-org", { limit: 10, action: "integration.validate" });
    expect(events[0]).toMatchObject({ actor: { type: "scheduler" }, provider: "openai", outcome: "auth_failed" });
    // The same round again on either instance: nobody runs it.
    expect(await s1.tick()).toBeNull();
    expect(await s2.tick()).toBeNull();

    // Next round: again exactly one, and only the credentials still active (3).
    core.clock.t = (Math.floor(core.clock.now() / EVERY) + 1) * EVERY;
    const [n1, n2] = await Promise.all([s2.tick(), s1.tick()]);
    expect([n1, n2].filter((r) => r !== null)).toHaveLength(1);
    expect((n1 ?? n2)!).toMatchObject({ validated: 3, changed: 0 });
    await l1.close();
    await l2.close();
  });

  it("calls to one provider are spaced by its registry rate (60 s / requests_per_minute); no verdict changes nothing", async () => {
    const perMinute = core.deps.registry.providers.find((p) => p.id === "openai")!.rate_limits.requests_per_minute;
    sleeps.length = 0;
    core.clock.advance(10 * EVERY);
    const r = await runRevalidationRound(core.deps, { round: 1, sleep });
    expect(r.validated).toBe(3);
    // a-org/openai, b-org/anthropic, b-org/openai: the second OpenAI call waited its spacing.
    expect(sleeps.some((ms) => ms >= Math.ceil(60_000 / perMinute) - 5)).toBe(true);

    openai.setMode("unavailable");
    try {
      const down = await runRevalidationRound(core.deps, { round: 2, sleep });
      expect(down.errors).toBe(2);
      expect((await core.deps.store.get("a-org", "openai"))!.status).toBe("active");
      expect((await core.deps.store.get("b-org", "openai"))!.status).toBe("active");
    } finally {
      openai.setMode("normal");
    }
  });

  it("the SQLite lease: a busy round blocks newer ones until it is renewed to done or its busy time passes", async () => {
    const file = path.join(core.dataDir, "auth.sqlite");
    const [a, b] = [new SqliteRoundLease(file), new SqliteRoundLease(file)];
    const t = (s: number) => new Date(1_900_000_000_000 + s * 1000);
    expect(await a.claim("busy-job", 1, "a", t(0), t(60))).toBe(true);
    expect(await b.claim("busy-job", 2, "b", t(10), t(70))).toBe(false);
    await a.renew("busy-job", "a", t(20));
    expect(await b.claim("busy-job", 3, "b", t(20), t(80))).toBe(true);
    expect(await a.claim("busy-job", 3, "a", t(100), t(160))).toBe(false); // round 3 is b's, once
    expect(await a.claim("busy-job", 4, "a", t(80), t(140))).toBe(true); // b never finished: expired
    await a.close();
    await b.close();
  });

  it("VALIDATE_EVERY takes 30s, 15m, 6h, 1d and names the variable when wrong", () => {
    expect(parseEnv({ VALIDATE_EVERY: "30s" }).VALIDATE_EVERY).toBe(30_000);
    expect(parseEnv({ VALIDATE_EVERY: "6h" }).VALIDATE_EVERY).toBe(6 * 3_600_000);
    expect(parseEnv({}).VALIDATE_EVERY).toBeUndefined();
    expect(() => parseEnv({ VALIDATE_EVERY: "6 hours" })).toThrow(/VALIDATE_EVERY/);
    expect(() => parseEnv({ VALIDATE_EVERY: "1s" })).toThrow(/VALIDATE_EVERY: must be between 10s and 30d/);
  });
});
