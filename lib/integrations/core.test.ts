import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_INVALID_KEY, FAKE_OPENAI_ORG_ID } from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import {
  CLOCK_START,
  SYSTEM_ACTOR,
  adminOf,
  makeCore,
  rejectionOf,
  viewerOf,
  type TestCore,
} from "@/tests/support/core-deps";

import type { Actor } from "../auth/actor";
import { AppError, type ErrorCode } from "../errors";
import { CipherError } from "../kms/cipher";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { StoreUnavailableError, type CredentialRow } from "../storage/store";
import { containsSecret } from "./protocols/http";
import { deleteIntegration } from "./delete-integration";
import { getCredential } from "./get-credential";
import { listIntegrations } from "./list-integrations";
import { SETUP_STEPS, setupIntegration, type SetupStep } from "./setup-integration";
import { updateIntegrationMetadata } from "./update-integration-metadata";
import { validateIntegration } from "./validate-integration";

/**
 * The credential core against real deps (SQLite store, local key ring, OpenAI fake), with probes
 * around the cipher and the store to inject faults and interleave concurrent changes.
 */

const ORG = "acme";
const OTHER = "globex";
const ADMIN = adminOf(ORG);
const OPENAI = { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } };
const OPENAI_WITH_ORG = { credential: { api_key: FAKE_OPENAI_ADMIN_KEY, organization_id: FAKE_OPENAI_ORG_ID } };
const manual = (apiKey: string, extra: Record<string, unknown> = {}) => ({
  credential: { display_name: "Datadog", api_key: apiKey },
  ...extra,
});

let fake: OpenAIFake;
let core: TestCore;

beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});

async function freshCore(env: Record<string, string> = {}): Promise<TestCore> {
  const c = await makeCore({ env: { OPENAI_API_BASE: fake.url, ...env } });
  await c.addOrg(ORG);
  await c.addOrg(OTHER);
  return c;
}

beforeEach(async () => {
  fake.setMode("normal");
  fake.clearRequests();
  core = await freshCore();
});
afterEach(async () => {
  await core.close();
});

async function appError(p: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  const e = await rejectionOf(p);
  expect(e).toBeInstanceOf(AppError);
  expect({ code: (e as AppError).code, message: (e as AppError).message }).toMatchObject({ code });
  return e as AppError;
}

async function rowOf(org: string, provider: string): Promise<CredentialRow | null> {
  return core.raw.store.get(org, provider);
}

function expectSameRow(after: CredentialRow | null, before: CredentialRow | null): void {
  expect(before).not.toBeNull();
  expect(after).not.toBeNull();
  expect(after!.ciphertext.equals(before!.ciphertext)).toBe(true);
  expect(after!.version).toBe(before!.version);
  expect(after!.fingerprint).toBe(before!.fingerprint);
  expect(after!.credentialId).toBe(before!.credentialId);
  expect(after!.metadata).toEqual(before!.metadata);
  expect(after).toEqual(before);
}

function setup(input: unknown, opts: { org?: string; provider?: string; actor?: Actor | null; onStep?: (s: SetupStep) => void } = {}) {
  const org = opts.org ?? ORG;
  return setupIntegration(
    { actor: opts.actor === undefined ? adminOf(org) : opts.actor, org, provider: opts.provider ?? "openai", input, onStep: opts.onStep },
    core.deps,
  );
}

function unauthorized401(): Response {
  return new Response(
    JSON.stringify({
      error: {
        message: `Incorrect API key provided: sk-admin-****${FAKE_OPENAI_ADMIN_KEY.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    }),
    { status: 401, headers: { "content-type": "application/json" } },
  );
}

// ---------------------------------------------------------------------------------------------

describe("setup: order and atomicity", () => {
  it("runs format → connection test → encryption → store, reporting each step in order", async () => {
    const trace: string[] = [];
    const steps: SetupStep[] = [];
    const realFetch = core.deps.fetch;
    core.deps.fetch = (...args) => {
      trace.push("provider");
      return realFetch(...args);
    };
    core.cipher.hooks.beforeEncrypt = () => void trace.push("encrypt");
    core.store.hooks.beforePut = () => void trace.push("put");

    const res = await setup(OPENAI, { onStep: (s) => (steps.push(s), trace.push(`step:${s}`)) });

    expect(steps).toEqual([...SETUP_STEPS]);
    expect(trace).toEqual(["step:format", "provider", "step:connection_test", "encrypt", "step:encryption", "put", "step:stored"]);
    expect(res.created).toBe(true);
    expect(res.connection_test.outcome).toBe("ok");
    expect(res.integration).toMatchObject({ org: ORG, provider: "openai", status: "active", version: 1, key_kind: "admin", last_error: null });
    expect(res.integration.last_validated_at).toBe(new Date(CLOCK_START).toISOString());
    const row = await rowOf(ORG, "openai");
    expect(row?.fingerprint).toBe(res.integration.fingerprint);
    expect(row?.ciphertext.includes(Buffer.from(FAKE_OPENAI_ADMIN_KEY))).toBe(false);
  });

  it("a replacement bumps the version, keeps created_at and stores a new ciphertext under a new credential id", async () => {
    const first = await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    core.clock.advance(60_000);
    const second = await setup(OPENAI_WITH_ORG);
    const after = await rowOf(ORG, "openai");

    expect(second.created).toBe(false);
    expect(second.integration.version).toBe(2);
    expect(second.integration.created_at).toBe(first.integration.created_at);
    expect(second.integration.updated_at).toBe(new Date(CLOCK_START + 60_000).toISOString());
    expect(second.integration.fingerprint).not.toBe(first.integration.fingerprint);
    expect(second.integration.account).toEqual({ id: FAKE_OPENAI_ORG_ID, name: null });
    expect(after!.credentialId).not.toBe(before!.credentialId);
    expect(after!.ciphertext.equals(before!.ciphertext)).toBe(false);
  });

  it("encryption unavailable → 503 encryption_unavailable, nothing written, the old row byte-identical", async () => {
    await setup(OPENAI, { onStep: () => {} });
    await updateIntegrationMetadata({ actor: ADMIN, org: ORG, provider: "openai", input: { metadata: { label: "prod" } } }, core.deps);
    const before = await rowOf(ORG, "openai");
    core.cipher.hooks.beforeEncrypt = () => {
      throw new CipherError("unavailable", "KMS is down");
    };
    const steps: SetupStep[] = [];
    const putsBefore = core.store.calls.put;

    const e = await appError(setup(OPENAI_WITH_ORG, { onStep: (s) => steps.push(s) }), "encryption_unavailable");

    expect(e.status).toBe(503);
    expect(steps).toEqual(["format", "connection_test"]);
    expect(core.store.calls.put).toBe(putsBefore);
    expectSameRow(await rowOf(ORG, "openai"), before);
  });

  it("store write fails → 503 storage_unavailable, the old row intact", async () => {
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    core.store.hooks.beforePut = () => {
      throw new StoreUnavailableError();
    };
    const steps: SetupStep[] = [];

    const e = await appError(setup(OPENAI_WITH_ORG, { onStep: (s) => steps.push(s) }), "storage_unavailable");

    expect(e.status).toBe(503);
    expect(steps).toEqual(["format", "connection_test", "encryption"]);
    expectSameRow(await rowOf(ORG, "openai"), before);
    // The next setup works again.
    core.store.hooks.beforePut = undefined;
    expect((await setup(OPENAI_WITH_ORG)).integration.version).toBe(2);
  });

  it("store read fails → 503 storage_unavailable before the provider is called or anything is encrypted", async () => {
    core.store.hooks.beforeGet = () => {
      throw new StoreUnavailableError();
    };
    const e = await appError(setup(OPENAI), "storage_unavailable");
    expect(e.status).toBe(503);
    expect(fake.requests).toHaveLength(0);
    expect(core.cipher.calls.encrypt).toBe(0);
    expect(core.store.calls.put).toBe(0);
  });

  it("connection test failure → 422 with the test result; never encrypted, nothing stored, the old row intact", async () => {
    // New integration: nothing stored.
    const e1 = await appError(setup({ credential: { api_key: FAKE_OPENAI_INVALID_KEY } }), "connection_test_failed");
    expect(e1.status).toBe(422);
    expect(e1.extra.connection_test?.outcome).toBe("auth_failed");
    expect(e1.extra.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(core.cipher.calls.encrypt).toBe(0);
    expect(await rowOf(ORG, "openai")).toBeNull();

    // Replacement: the working credential stays.
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    const encrypts = core.cipher.calls.encrypt;
    await appError(setup({ credential: { api_key: FAKE_OPENAI_INVALID_KEY } }), "connection_test_failed");
    expect(core.cipher.calls.encrypt).toBe(encrypts);
    expectSameRow(await rowOf(ORG, "openai"), before);
  });

  it.each([
    ["unavailable", "provider_unreachable", 502],
    ["hang", "provider_timeout", 504],
    ["rate_limited", "rate_limited", 429],
  ] as const)("provider %s during setup → %s (%i), nothing stored", async (mode, code, status) => {
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    fake.setMode(mode);
    const e = await appError(setup(OPENAI_WITH_ORG), code);
    expect(e.status).toBe(status);
    if (mode === "rate_limited") expect(e.extra.retryAfterS).toBe(7);
    expect(core.cipher.calls.encrypt).toBe(1);
    expectSameRow(await rowOf(ORG, "openai"), before);
  });

  it("format failure → 400 invalid_format with fields; the provider is never called and nothing is stored", async () => {
    const steps: SetupStep[] = [];
    const e = await appError(setup({ credential: { api_key: "not-a-key" } }, { onStep: (s) => steps.push(s) }), "invalid_format");
    expect(e.status).toBe(400);
    expect(e.extra.fields).toEqual({ "credential.api_key": expect.any(String) });
    expect(steps).toEqual([]);
    expect(fake.requests).toHaveLength(0);
    expect(core.cipher.calls.encrypt).toBe(0);
    expect(core.store.calls.get).toBe(0);
    expect(await rowOf(ORG, "openai")).toBeNull();

    const missing = await appError(setup({ credential: {} }), "invalid_format");
    expect(missing.extra.fields).toEqual({ "credential.api_key": "is required" });
    const unknown = await appError(setup({ credential: { api_key: FAKE_OPENAI_ADMIN_KEY, extra: "x" } }), "invalid_request");
    expect(unknown.extra.fields).toEqual({ "credential.extra": expect.any(String) });
    const shape = await appError(setup({ credential: { api_key: FAKE_OPENAI_ADMIN_KEY }, other: 1 }), "invalid_request");
    expect(shape.status).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("conflict: a concurrent change wins deterministically", () => {
  it("two first-time setups that both read 'no row' → exactly one stores, the other gets 409 conflict", async () => {
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => (release = r));
    core.store.hooks.afterGet = async () => {
      if (++arrived === 2) release();
      await bothRead;
    };
    const keys = ["dd-key-one-0123456789", "dd-key-two-0123456789"];
    const results = await Promise.allSettled(keys.map((k) => setup(manual(k), { provider: "saas_datadog" })));

    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(AppError);
    expect((lost[0]!.reason as AppError).code).toBe("conflict");
    expect((lost[0]!.reason as AppError).status).toBe(409);

    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof setup>>>).value;
    const row = await rowOf(ORG, "saas_datadog");
    expect(row!.version).toBe(1);
    expect(row!.fingerprint).toBe(winner.integration.fingerprint);
    const cred = await getCredential(ORG, "saas_datadog", core.deps);
    expect(cred.credential.api_key).toBe(keys[results.indexOf(won[0]!)]);
  });

  it("validate of a credential deleted and set up again meanwhile (same version 1) → 409; the new credential's row is untouched", async () => {
    await setup(manual("dd-key-first-00000"), { provider: "saas_datadog" });
    let interleaved = false;
    core.store.hooks.beforeUpdate = async () => {
      if (interleaved) return;
      interleaved = true;
      // Between validate's read and its write: delete, then a new credential at version 1 again.
      await deleteIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.raw);
      await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: manual("dd-key-second-0000") }, core.raw);
    };
    await appError(validateIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.deps), "conflict");
    const row = await rowOf(ORG, "saas_datadog");
    expect(row!.version).toBe(1);
    const cred = await getCredential(ORG, "saas_datadog", core.deps);
    expect(cred.credential.api_key).toBe("dd-key-second-0000");
  });

  it("a replacement that read a version another setup has since replaced → 409; the other setup's row stays", async () => {
    await setup(manual("dd-key-original-000"), { provider: "saas_datadog" });
    let interleaved = false;
    core.store.hooks.afterGet = async () => {
      if (interleaved) return;
      interleaved = true;
      // Another request replaces the credential between our read and our write.
      await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: manual("dd-key-winner-0000") }, core.raw);
    };
    const e = await appError(setup(manual("dd-key-loser-00000"), { provider: "saas_datadog" }), "conflict");
    expect(e.status).toBe(409);

    const row = await rowOf(ORG, "saas_datadog");
    expect(row!.version).toBe(2);
    expect(row!.fingerprint).toBe(fingerprintOf(canonicalize({ display_name: "Datadog", api_key: "dd-key-winner-0000" }), core.deps.pepper));
    const cred = await getCredential(ORG, "saas_datadog", core.deps);
    expect(cred).toMatchObject({ version: 2, credential: { api_key: "dd-key-winner-0000" } });
  });

  it("validate that loses to a replacement → 409, and its verdict is not written over the new credential", async () => {
    await setup(OPENAI);
    core.deps.fetch = async () => unauthorized401(); // this validate would mark the old key invalid
    let interleaved = false;
    core.store.hooks.beforeUpdate = async () => {
      if (interleaved) return;
      interleaved = true;
      await setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: OPENAI_WITH_ORG }, core.raw);
    };
    await appError(validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps), "conflict");
    const row = await rowOf(ORG, "openai");
    expect(row).toMatchObject({ version: 2, status: "active", lastError: null });
  });

  it("a metadata update retries past a concurrent replacement and lands on the new row", async () => {
    await setup(manual("dd-key-original-000"), { provider: "saas_datadog" });
    let interleaved = false;
    core.store.hooks.beforeUpdate = async () => {
      if (interleaved) return;
      interleaved = true;
      await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: manual("dd-key-winner-0000") }, core.raw);
    };
    const out = await updateIntegrationMetadata(
      { actor: ADMIN, org: ORG, provider: "saas_datadog", input: { metadata: { label: "after race" } } },
      core.deps,
    );
    expect(out).toMatchObject({ version: 2, metadata: { label: "after race" } });
    expect(core.store.calls.update).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe("validate", () => {
  const validate = (org = ORG, actor: Actor | null = adminOf(org), provider = "openai") =>
    validateIntegration({ actor, org, provider }, core.deps);

  it("ok → active with last_validated_at now, same version and ciphertext", async () => {
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    core.clock.advance(5 * 60_000);
    const res = await validate();
    const at = new Date(CLOCK_START + 5 * 60_000).toISOString();
    expect(res.connection_test.outcome).toBe("ok");
    expect(res.integration).toMatchObject({ status: "active", version: 1, last_validated_at: at, updated_at: at, last_error: null });
    expect(res.integration.created_at).toBe(new Date(CLOCK_START).toISOString());
    const after = await rowOf(ORG, "openai");
    expect(after!.ciphertext.equals(before!.ciphertext)).toBe(true);
    expect(after!.lastValidatedAt).toBe(at);
  });

  it("provider rejects the stored key → status invalid with last_error {code, message, at}, no secret in it", async () => {
    await setup(OPENAI);
    core.clock.advance(1000);
    core.deps.fetch = async () => unauthorized401();
    const res = await validate();
    const at = new Date(CLOCK_START + 1000).toISOString();
    expect(res.connection_test.outcome).toBe("auth_failed");
    expect(res.integration.status).toBe("invalid");
    expect(res.integration.last_error).toEqual({ code: "auth_failed", message: expect.any(String), at });
    expect(res.integration.last_error!.message.length).toBeGreaterThan(10);
    expect(containsSecret(JSON.stringify(res), [FAKE_OPENAI_ADMIN_KEY])).toBe(false);
    const row = await rowOf(ORG, "openai");
    expect(row).toMatchObject({ status: "invalid", version: 1, lastError: { code: "auth_failed", at } });

    // The provider accepts it again → back to active, error cleared.
    core.deps.fetch = core.raw.fetch;
    const again = await validate();
    expect(again.integration).toMatchObject({ status: "active", last_error: null });
  });

  it.each([
    ["unavailable", "provider_unreachable", 502],
    ["hang", "provider_timeout", 504],
    ["rate_limited", "rate_limited", 429],
  ] as const)("provider %s → %s (%i) and the row is unchanged", async (mode, code, status) => {
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    core.clock.advance(1000);
    fake.setMode(mode);
    const e = await appError(validate(), code);
    expect(e.status).toBe(status);
    expect(e.extra.connection_test).toBeDefined();
    expectSameRow(await rowOf(ORG, "openai"), before);
  });

  it.each([
    ["the header", (_b: Buffer) => 1],
    ["the nonce", (b: Buffer) => 2 + b[1]! + 3],
    ["the ciphertext", (b: Buffer) => Math.floor(b.length / 2)],
    ["the tag", (b: Buffer) => b.length - 1],
  ])("a ciphertext tampered in %s → 503 encryption_unavailable, the provider never called, row unchanged", async (_where, at) => {
    await setup(OPENAI);
    const row = (await rowOf(ORG, "openai"))!;
    const tampered = Buffer.from(row.ciphertext);
    const i = at(tampered);
    tampered[i] = tampered[i]! ^ 0x01;
    await core.raw.store.update(ORG, "openai", row.version, { ciphertext: tampered });
    const before = await rowOf(ORG, "openai");
    fake.clearRequests();

    const e = await appError(validate(), "encryption_unavailable");
    expect(e.status).toBe(503);
    expect(fake.requests).toHaveLength(0);
    expectSameRow(await rowOf(ORG, "openai"), before);
    await appError(getCredential(ORG, "openai", core.deps), "encryption_unavailable");
  });

  it("a ciphertext moved to another org's row (with its credential id) fails closed", async () => {
    await setup(OPENAI, { org: ORG });
    await setup(OPENAI_WITH_ORG, { org: OTHER });
    const a = (await rowOf(ORG, "openai"))!;
    const b = (await rowOf(OTHER, "openai"))!;
    await core.raw.store.put({ ...b, ciphertext: a.ciphertext, credentialId: a.credentialId, version: b.version + 1 }, b.version);
    const moved = await rowOf(OTHER, "openai");

    await appError(validate(OTHER), "encryption_unavailable");
    await appError(getCredential(OTHER, "openai", core.deps), "encryption_unavailable");
    expectSameRow(await rowOf(OTHER, "openai"), moved);
    // The original row still works.
    expect((await validate(ORG)).integration.status).toBe("active");
  });

  it("a ciphertext moved to another provider's row in the same org fails closed", async () => {
    await setup(manual("dd-key-one-0123456789"), { provider: "saas_datadog" });
    await setup(manual("nr-key-two-0123456789"), { provider: "saas_newrelic" });
    const a = (await rowOf(ORG, "saas_datadog"))!;
    const b = (await rowOf(ORG, "saas_newrelic"))!;
    await core.raw.store.put({ ...b, ciphertext: a.ciphertext, credentialId: a.credentialId, version: b.version + 1 }, b.version);
    await appError(validate(ORG, ADMIN, "saas_newrelic"), "encryption_unavailable");
    await appError(getCredential(ORG, "saas_newrelic", core.deps), "encryption_unavailable");
    expect((await getCredential(ORG, "saas_datadog", core.deps)).credential.api_key).toBe("dd-key-one-0123456789");
  });

  it("an older ciphertext of the same integration replayed into the current row fails closed", async () => {
    await setup(manual("dd-key-old-0123456789"), { provider: "saas_datadog" });
    const old = (await rowOf(ORG, "saas_datadog"))!;
    await setup(manual("dd-key-new-0123456789"), { provider: "saas_datadog" });
    const current = (await rowOf(ORG, "saas_datadog"))!;
    await core.raw.store.update(ORG, "saas_datadog", current.version, { ciphertext: old.ciphertext });
    core.deps.cache.invalidate(ORG, "saas_datadog");
    await appError(validate(ORG, ADMIN, "saas_datadog"), "encryption_unavailable");
    await appError(getCredential(ORG, "saas_datadog", core.deps), "encryption_unavailable");
  });

  it("nothing set up → 404 integration_not_found", async () => {
    const e = await appError(validate(), "integration_not_found");
    expect(e.status).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------

describe("authorization", () => {
  type Call = (actor: Actor | null, org: string, provider: string) => Promise<unknown>;
  const calls: Record<string, { write: boolean; call: Call }> = {
    setup: { write: true, call: (actor, org, provider) => setupIntegration({ actor, org, provider, input: OPENAI }, core.deps) },
    validate: { write: true, call: (actor, org, provider) => validateIntegration({ actor, org, provider }, core.deps) },
    delete: { write: true, call: (actor, org, provider) => deleteIntegration({ actor, org, provider }, core.deps) },
    metadata: {
      write: true,
      call: (actor, org, provider) => updateIntegrationMetadata({ actor, org, provider, input: { metadata: { label: "x" } } }, core.deps),
    },
    list: { write: false, call: (actor, org) => listIntegrations({ actor, org }, core.deps) },
  };
  const names = Object.keys(calls);

  function expectUntouched() {
    expect(fake.requests).toHaveLength(0);
    expect(core.cipher.calls).toEqual({ encrypt: 0, decrypt: 0 });
    expect(core.store.calls).toEqual({ get: 0, listByOrg: 0, listSummaries: 0, put: 0, update: 0, delete: 0 });
  }

  it.each(names)("%s: no actor → 401 unauthenticated", async (name) => {
    const e = await appError(calls[name]!.call(null, ORG, "openai"), "unauthenticated");
    expect(e.status).toBe(401);
    expectUntouched();
  });

  it.each(names)("%s: another org's API key → 404 org_not_found", async (name) => {
    const e = await appError(calls[name]!.call(adminOf(OTHER), ORG, "openai"), "org_not_found");
    expect(e.status).toBe(404);
    expectUntouched();
  });

  it.each(names)("%s: an org that does not exist → 404 org_not_found (even for its own slug's key)", async (name) => {
    await appError(calls[name]!.call(adminOf("initech"), "initech", "openai"), "org_not_found");
    await appError(calls[name]!.call(SYSTEM_ACTOR, "initech", "openai"), "org_not_found");
    expectUntouched();
  });

  it.each(names)("%s: a user with no membership → 404 org_not_found", async (name) => {
    await appError(calls[name]!.call({ kind: "user", userId: "u1", email: "u1@example.com" }, ORG, "openai"), "org_not_found");
    expectUntouched();
  });

  it.each(names.filter((n) => calls[n]!.write))("%s: a viewer key → 403 forbidden, nothing touched", async (name) => {
    const e = await appError(calls[name]!.call(viewerOf(ORG), ORG, "openai"), "forbidden");
    expect(e.status).toBe(403);
    expectUntouched();
  });

  it("a viewer can list, and sees the integrations without secrets", async () => {
    await setup(OPENAI);
    const out = await listIntegrations({ actor: viewerOf(ORG), org: ORG }, core.deps);
    expect(out.integrations.map((i) => i.provider)).toEqual(["openai"]);
    expect(JSON.stringify(out)).not.toContain(FAKE_OPENAI_ADMIN_KEY);
  });

  it("a user's role comes from memberships: viewer may list but not write, owner may write", async () => {
    const roles: Record<string, "owner" | "viewer"> = { viewer: "viewer", owner: "owner" };
    core.deps.memberships = async (userId, org) => (org === ORG ? (roles[userId] ?? null) : null);
    const viewer: Actor = { kind: "user", userId: "viewer", email: "v@example.com" };
    const owner: Actor = { kind: "user", userId: "owner", email: "o@example.com" };
    await appError(setup(OPENAI, { actor: viewer }), "forbidden");
    expect((await listIntegrations({ actor: viewer, org: ORG }, core.deps)).integrations).toEqual([]);
    expect((await setup(OPENAI, { actor: owner })).created).toBe(true);
    await appError(setup(OPENAI, { actor: owner, org: OTHER }), "org_not_found");
  });

  it("the system actor (CLI) may do everything", async () => {
    await setup(OPENAI, { actor: SYSTEM_ACTOR });
    await validateIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: "openai" }, core.deps);
    await updateIntegrationMetadata({ actor: SYSTEM_ACTOR, org: ORG, provider: "openai", input: { metadata: {} } }, core.deps);
    expect((await listIntegrations({ actor: SYSTEM_ACTOR, org: ORG }, core.deps)).integrations).toHaveLength(1);
    await deleteIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: "openai" }, core.deps);
    expect(await rowOf(ORG, "openai")).toBeNull();
  });

  it.each(names.filter((n) => calls[n]!.write))("%s: unknown provider → 404 unknown_provider, but only after authorization", async (name) => {
    const call = calls[name]!.call;
    const e = await appError(call(ADMIN, ORG, "dropbox"), "unknown_provider");
    expect(e.status).toBe(404);
    await appError(call(ADMIN, ORG, "saas_"), "unknown_provider");
    await appError(call(ADMIN, ORG, "../../etc"), "unknown_provider");
    // Authorization first: an unknown provider tells an unauthorized caller nothing.
    await appError(call(viewerOf(ORG), ORG, "dropbox"), "forbidden");
    await appError(call(adminOf(OTHER), ORG, "dropbox"), "org_not_found");
    await appError(call(null, ORG, "dropbox"), "unauthenticated");
    expectUntouched();
  });

  it("getCredential: unknown provider → unknown_provider; nothing stored → integration_not_found", async () => {
    await appError(getCredential(ORG, "dropbox", core.deps), "unknown_provider");
    await appError(getCredential(ORG, "openai", core.deps), "integration_not_found");
  });
});

// ---------------------------------------------------------------------------------------------

describe("metadata", () => {
  const put = (input: unknown, provider = "openai") => updateIntegrationMetadata({ actor: ADMIN, org: ORG, provider, input }, core.deps);

  it("a replacement without metadata keeps the stored metadata; with metadata it replaces it", async () => {
    await setup({ ...OPENAI, metadata: { label: "prod", tags: { team: "finops" } } });
    const kept = await setup(OPENAI_WITH_ORG);
    expect(kept.integration.metadata).toEqual({ label: "prod", tags: { team: "finops" } });
    const replaced = await setup({ ...OPENAI, metadata: { label: "new" } });
    expect(replaced.integration.metadata).toEqual({ label: "new" });
    expect((await rowOf(ORG, "openai"))!.metadata).toEqual({ label: "new" });
  });

  it("PUT replaces the whole object and leaves the credential alone", async () => {
    await setup({ ...OPENAI, metadata: { label: "prod", tags: { team: "finops" } } });
    const before = await rowOf(ORG, "openai");
    core.clock.advance(1000);
    const out = await put({ metadata: { project_ids: ["proj_abcdefgh12"] } });
    expect(out.metadata).toEqual({ project_ids: ["proj_abcdefgh12"] });
    expect(out.updated_at).toBe(new Date(CLOCK_START + 1000).toISOString());
    const after = await rowOf(ORG, "openai");
    expect(after!.metadata).toEqual({ project_ids: ["proj_abcdefgh12"] });
    expect(after!.ciphertext.equals(before!.ciphertext)).toBe(true);
    expect(after!.version).toBe(before!.version);
    expect(fake.requests).toHaveLength(1); // only the setup's test

    expect((await put({ metadata: {} })).metadata).toEqual({});
  });

  it("invalid metadata → 400 invalid_metadata with fields; nothing changed", async () => {
    await setup({ ...OPENAI, metadata: { label: "prod" } });
    const before = await rowOf(ORG, "openai");

    const unknown = await appError(put({ metadata: { billing_table: "x" } }), "invalid_metadata");
    expect(unknown.status).toBe(400);
    expect(unknown.extra.fields).toEqual({ "metadata.billing_table": expect.any(String) });
    const wrongType = await appError(put({ metadata: { label: 42, project_ids: ["nope"] } }), "invalid_metadata");
    expect(Object.keys(wrongType.extra.fields!).sort()).toEqual(["metadata.label", "metadata.project_ids.0"]);
    const tooLong = await appError(put({ metadata: { label: "x".repeat(101) } }), "invalid_metadata");
    expect(tooLong.extra.fields).toEqual({ "metadata.label": expect.stringContaining("100") });
    await appError(put({ label: "no wrapper" }), "invalid_request");

    expectSameRow(await rowOf(ORG, "openai"), before);
  });

  it("setup with invalid metadata → invalid_metadata before the provider is called", async () => {
    const e = await appError(setup({ ...OPENAI, metadata: { currency: "USD" } }), "invalid_metadata");
    expect(e.extra.fields).toEqual({ "metadata.currency": expect.any(String) });
    expect(fake.requests).toHaveLength(0);
    expect(await rowOf(ORG, "openai")).toBeNull();
    // The same key is valid for a manual vendor.
    const ok = await setup(manual("dd-key-0123456789", { metadata: { currency: "USD" } }), { provider: "saas_datadog" });
    expect(ok.integration.metadata).toEqual({ currency: "USD" });
  });

  it("PUT on a provider that is not connected → 404 integration_not_found", async () => {
    await appError(put({ metadata: { label: "x" } }), "integration_not_found");
  });
});

// ---------------------------------------------------------------------------------------------

describe("delete", () => {
  const del = (provider = "openai") => deleteIntegration({ actor: ADMIN, org: ORG, provider }, core.deps);

  it("removes the row; getCredential, validate and a second delete then say integration_not_found", async () => {
    const res = await setup(OPENAI);
    expect(await del()).toEqual({ fingerprint: res.integration.fingerprint });
    expect(await rowOf(ORG, "openai")).toBeNull();
    expect((await listIntegrations({ actor: ADMIN, org: ORG }, core.deps)).integrations).toEqual([]);
    await appError(getCredential(ORG, "openai", core.deps), "integration_not_found");
    await appError(validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps), "integration_not_found");
    await appError(del(), "integration_not_found");
  });

  it("invalidates the runtime cache at once (no waiting for the TTL)", async () => {
    await setup(OPENAI);
    await getCredential(ORG, "openai", core.deps);
    const reads = core.store.calls.get;
    await getCredential(ORG, "openai", core.deps);
    expect(core.store.calls.get).toBe(reads); // served from the cache

    await del();
    await appError(getCredential(ORG, "openai", core.deps), "integration_not_found");
  });

  it("only the org's own row goes", async () => {
    await setup(OPENAI, { org: ORG });
    await setup(OPENAI, { org: OTHER });
    await del();
    expect(await rowOf(OTHER, "openai")).not.toBeNull();
    expect((await getCredential(OTHER, "openai", core.deps)).credential.api_key).toBe(FAKE_OPENAI_ADMIN_KEY);
  });

  it("store unavailable → storage_unavailable and the row stays", async () => {
    await setup(OPENAI);
    const before = await rowOf(ORG, "openai");
    core.store.hooks.beforeDelete = () => {
      throw new StoreUnavailableError();
    };
    await appError(del(), "storage_unavailable");
    expectSameRow(await rowOf(ORG, "openai"), before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("org rate limit (setup + validate per org per minute)", () => {
  beforeEach(async () => {
    await core.close();
    core = await freshCore({ ORG_RATE_LIMIT_PER_MINUTE: "3" });
  });

  const setupDd = (org = ORG, key = "dd-key-0123456789") => setup(manual(key), { org, provider: "saas_datadog" });
  const validateDd = (org = ORG) => validateIntegration({ actor: adminOf(org), org, provider: "saas_datadog" }, core.deps);

  it("the 4th call in a minute → 429 rate_limited with retryAfterS; another org is unaffected; a minute later it works", async () => {
    await setupDd();
    await validateDd();
    core.clock.advance(20_000);
    await setupDd(ORG, "dd-key-second-0000");
    const puts = core.store.calls.put;

    const e = await appError(setupDd(ORG, "dd-key-third-00000"), "rate_limited");
    expect(e.status).toBe(429);
    expect(e.extra.retryAfterS).toBe(40);
    expect(core.store.calls.put).toBe(puts);
    const v = await appError(validateDd(), "rate_limited");
    expect(v.extra.retryAfterS).toBeGreaterThan(0);
    expect((await rowOf(ORG, "saas_datadog"))!.version).toBe(2);

    // Another org has its own budget.
    await setupDd(OTHER);
    await validateDd(OTHER);
    // The operator's CLI (system actor) is not limited.
    await validateIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: "saas_datadog" }, core.deps);

    core.clock.advance(39_000);
    expect((await appError(setupDd(ORG, "dd-key-third-00000"), "rate_limited")).extra.retryAfterS).toBe(1);
    core.clock.advance(1_000);
    expect((await setupDd(ORG, "dd-key-third-00000")).integration.version).toBe(3);
  });

  it("a rate-limited setup never reaches the provider", async () => {
    await setupDd();
    await setupDd();
    await setupDd();
    await appError(setup(OPENAI), "rate_limited");
    expect(fake.requests).toHaveLength(0);
  });

  it("format failures and reads do not use up the budget", async () => {
    for (let i = 0; i < 5; i++) {
      await appError(setupDd(ORG, "has spaces"), "invalid_format");
      await listIntegrations({ actor: ADMIN, org: ORG }, core.deps);
    }
    await setupDd();
    await validateDd();
    await validateDd();
    await appError(validateDd(), "rate_limited");
  });
});
