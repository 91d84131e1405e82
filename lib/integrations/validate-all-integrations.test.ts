import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAKE_OPENAI_ADMIN_KEY } from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { adminOf, makeCore, rejectionOf, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { AppError } from "../errors";
import { setupIntegration } from "./setup-integration";
import { validateAllIntegrations } from "./validate-all-integrations";

/** `integrations validate-all` as a use case: every stored credential re-tested, throttling waited out. */

let fake: OpenAIFake;
let core: TestCore;

beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  fake.setMode("normal");
  core = await makeCore({ env: { OPENAI_API_BASE: fake.url } });
  for (const org of ["acme", "globex"]) {
    await core.addOrg(org);
    await setupIntegration({ actor: adminOf(org), org, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
    await setupIntegration({ actor: adminOf(org), org, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: "dd-key-0000000000" } } }, core.deps);
  }
});
afterEach(async () => {
  await core.close();
});

describe("validateAllIntegrations", () => {
  it("re-tests every stored credential of every org, in (org, provider) order, with progress", async () => {
    const progress: string[] = [];
    const r = await validateAllIntegrations({ actor: SYSTEM_ACTOR, onProgress: (done, total, label) => progress.push(`${done}/${total} ${label}`) }, core.deps);
    expect(r.results.map((x) => `${x.org}/${x.provider}`)).toEqual(["acme/openai", "acme/saas_datadog", "globex/openai", "globex/saas_datadog"]);
    expect(r.results.filter((x) => x.provider === "openai").every((x) => x.status === "active" && x.outcome === "ok")).toBe(true);
    expect(r.invalid_or_expired).toBe(0);
    expect(progress).toEqual(["0/4 acme/openai", "1/4 acme/saas_datadog", "2/4 globex/openai", "3/4 globex/saas_datadog", "4/4 done"]);
  });

  it("only the given org with --org", async () => {
    const r = await validateAllIntegrations({ actor: SYSTEM_ACTOR, org: "globex" }, core.deps);
    expect(r.results.map((x) => x.org)).toEqual(["globex", "globex"]);
  });

  it("waits as long as a throttling provider asks, then retries and records the verdict", async () => {
    fake.setMode("rate_limited");
    const waits: number[] = [];
    const r = await validateAllIntegrations(
      {
        actor: SYSTEM_ACTOR,
        org: "acme",
        sleep: async (ms) => {
          waits.push(ms);
          fake.setMode("normal"); // the provider's window has passed
        },
      },
      core.deps,
    );
    expect(waits).toEqual([7000]); // the fake's Retry-After
    expect(r.results.find((x) => x.provider === "openai")).toMatchObject({ status: "active", outcome: "ok" });
  });

  it("gives up after the retries it is allowed and reports the error, changing nothing", async () => {
    fake.setMode("rate_limited");
    const before = await core.raw.store.get("acme", "openai");
    const waits: number[] = [];
    const r = await validateAllIntegrations({ actor: SYSTEM_ACTOR, org: "acme", rateLimitRetries: 2, sleep: async (ms) => void waits.push(ms) }, core.deps);
    expect(waits).toHaveLength(2);
    expect(r.results.find((x) => x.provider === "openai")).toEqual({ org: "acme", provider: "openai", error: "rate_limited" });
    expect(await core.raw.store.get("acme", "openai")).toStrictEqual(before);
  });

  it("is an operator task: an org's admin key may not run it", async () => {
    const e = await rejectionOf(validateAllIntegrations({ actor: adminOf("acme") }, core.deps));
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe("forbidden");
  });
});
