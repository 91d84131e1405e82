import crypto from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";

import { CLOCK_START, FakeClock, SYSTEM_ACTOR, gate, makeCore, rejectionOf, type TestCore } from "@/tests/support/core-deps";

import { AppError } from "../errors";
import { CipherError } from "../kms/cipher";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { StoreUnavailableError, type CredentialRow } from "../storage/store";
import { deleteIntegration } from "./delete-integration";
import { getCredential } from "./get-credential";
import { CredentialCache, type RuntimeCredential } from "./runtime";
import { setupIntegration } from "./setup-integration";

/**
 * The pipelines' decrypt cache (docs/decisions/005-in-process-decrypt-cache.md): TTL on a fake
 * clock, single-flight, failures not cached, invalidation, LRU bound.
 * Store reads and decrypts are counted through probes around the real SQLite store and key ring.
 */

const ORG = "acme";
const DD = "saas_datadog";

let core: TestCore;
afterEach(async () => {
  await core?.close();
});

async function start(env: Record<string, string> = {}): Promise<TestCore> {
  core = await makeCore({ env });
  await core.addOrg(ORG);
  return core;
}

const credentialFor = (apiKey: string) => ({ display_name: "Datadog", api_key: apiKey });

async function setup(apiKey: string, provider = DD) {
  return setupIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider, input: { credential: credentialFor(apiKey) } }, core.deps);
}

/** Another process replacing the row: straight into the store, so this process's cache is not told. */
async function replaceBehindTheCache(apiKey: string, provider = DD): Promise<CredentialRow> {
  const existing = await core.raw.store.get(ORG, provider);
  const credentialId = crypto.randomUUID();
  const credential = credentialFor(apiKey);
  const enc = await core.raw.cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org: ORG, provider, credentialId });
  const at = new Date(core.clock.now()).toISOString();
  return core.raw.store.put(
    {
      org: ORG,
      provider,
      credentialId,
      ciphertext: enc.ciphertext,
      keyRef: enc.keyRef,
      keyVersion: enc.keyVersion,
      fingerprint: fingerprintOf(canonicalize(credential), core.raw.pepper),
      status: "active",
      keyKind: "manual",
      metadata: {},
      account: null,
      version: (existing?.version ?? 0) + 1,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
      lastValidatedAt: null,
      lastError: null,
    },
    existing?.version ?? null,
  );
}

const get = (provider = DD) => getCredential(ORG, provider, core.deps);

/** Store reads and decrypts since the last call. */
function counter() {
  let reads = core.store.calls.get;
  let decrypts = core.cipher.calls.decrypt;
  return () => {
    const out = { reads: core.store.calls.get - reads, decrypts: core.cipher.calls.decrypt - decrypts };
    reads = core.store.calls.get;
    decrypts = core.cipher.calls.decrypt;
    return out;
  };
}

// ---------------------------------------------------------------------------------------------

describe("TTL (fake clock)", () => {
  it("default 300 s: hits within the TTL make no store read and no decrypt; at TTL + 1 ms it refetches", async () => {
    await start();
    expect(core.deps.env.CREDENTIAL_CACHE_TTL_MS).toBe(300_000);
    await setup("dd-key-one-0123456789");
    const calls = counter();

    const first = await get();
    expect(first.credential.api_key).toBe("dd-key-one-0123456789");
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });

    core.clock.advance(1);
    expect(await get()).toBe(first);
    core.clock.advance(299_998); // 299 999 ms after the load
    expect(await get()).toBe(first);
    expect(calls()).toEqual({ reads: 0, decrypts: 0 });

    core.clock.advance(2); // 300 001 ms
    const second = await get();
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });
    expect(second).not.toBe(first);
    expect(second).toEqual(first);

    // The new entry has its own TTL.
    core.clock.advance(299_999);
    await get();
    expect(calls()).toEqual({ reads: 0, decrypts: 0 });
  });

  it("CREDENTIAL_CACHE_TTL_MS is respected (1 s)", async () => {
    await start({ CREDENTIAL_CACHE_TTL_MS: "1000" });
    await setup("dd-key-one-0123456789");
    const calls = counter();
    await get();
    core.clock.advance(999);
    await get();
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });
    core.clock.advance(2);
    await get();
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });
  });

  it("CREDENTIAL_CACHE_TTL_MS=0 turns the cache off", async () => {
    await start({ CREDENTIAL_CACHE_TTL_MS: "0" });
    await setup("dd-key-one-0123456789");
    const calls = counter();
    await get();
    await get();
    await get();
    expect(calls()).toEqual({ reads: 3, decrypts: 3 });
  });

  it("a change made by another process is seen once the TTL has passed", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
    await replaceBehindTheCache("dd-key-two-0123456789");
    core.clock.advance(60_000);
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
    core.clock.advance(240_001);
    expect(await get()).toMatchObject({ version: 2, credential: { api_key: "dd-key-two-0123456789" } });
  });
});

// ---------------------------------------------------------------------------------------------

describe("single flight", () => {
  it.each([50, 1000])("%i concurrent cold calls → exactly 1 store read and 1 decrypt, one shared value", async (n) => {
    await start();
    await setup("dd-key-one-0123456789");
    const calls = counter();
    const results = await Promise.all(Array.from({ length: n }, () => get()));
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });
    expect(new Set(results).size).toBe(1);
    expect(results[0]!.credential.api_key).toBe("dd-key-one-0123456789");
  });

  it("concurrent cold calls for different providers load each once", async () => {
    await start();
    await setup("dd-key-one-0123456789", "saas_one");
    await setup("dd-key-two-0123456789", "saas_two");
    const calls = counter();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 ? "saas_two" : "saas_one")));
    expect(calls()).toEqual({ reads: 2, decrypts: 2 });
    expect(new Set(results.map((r) => r.credential.api_key))).toEqual(new Set(["dd-key-one-0123456789", "dd-key-two-0123456789"]));
    expect(results.every((r, i) => r.provider === (i % 2 ? "saas_two" : "saas_one"))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe("failures are not cached", () => {
  it("a store failure once → storage_unavailable; the next call reads again and succeeds", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    let fail = true;
    core.store.hooks.beforeGet = () => {
      if (fail) {
        fail = false;
        throw new StoreUnavailableError();
      }
    };
    const calls = counter();
    const e = await rejectionOf(get());
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe("storage_unavailable");
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
    expect(calls()).toEqual({ reads: 2, decrypts: 1 });
    await get();
    expect(calls()).toEqual({ reads: 0, decrypts: 0 });
  });

  it("a key service failure once → encryption_unavailable; the next call decrypts again", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    let fail = true;
    core.cipher.hooks.beforeDecrypt = () => {
      if (fail) {
        fail = false;
        throw new CipherError("unavailable", "KMS down");
      }
    };
    const calls = counter();
    expect(((await rejectionOf(get())) as AppError).code).toBe("encryption_unavailable");
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
    expect(calls()).toEqual({ reads: 2, decrypts: 2 });
  });

  it("integration_not_found is not cached: a row written later (by another process) is found at once", async () => {
    await start();
    expect(((await rejectionOf(get())) as AppError).code).toBe("integration_not_found");
    await replaceBehindTheCache("dd-key-one-0123456789");
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
  });

  it("a failing load shared by concurrent callers rejects all of them; the next call loads again", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    const g = gate();
    let first = true;
    core.store.hooks.beforeGet = async () => {
      if (!first) return;
      first = false;
      await g.promise;
      throw new StoreUnavailableError();
    };
    const calls = counter();
    const pending = Array.from({ length: 50 }, () => rejectionOf(get()));
    g.open();
    const errors = await Promise.all(pending);
    expect(errors.every((e) => e instanceof AppError && e.code === "storage_unavailable")).toBe(true);
    expect(calls()).toEqual({ reads: 1, decrypts: 0 });

    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
    expect(calls()).toEqual({ reads: 1, decrypts: 1 });
  });
});

// ---------------------------------------------------------------------------------------------

describe("invalidation", () => {
  it("a replacement setup is served at once (new fingerprint and version), without waiting for the TTL", async () => {
    await start();
    const one = await setup("dd-key-one-0123456789");
    const v1 = await get();
    expect(v1).toMatchObject({ version: 1, fingerprint: one.integration.fingerprint });

    const two = await setup("dd-key-two-0123456789");
    const v2 = await get();
    expect(two.integration.fingerprint).not.toBe(one.integration.fingerprint);
    expect(v2).toMatchObject({ version: 2, fingerprint: two.integration.fingerprint, credential: { api_key: "dd-key-two-0123456789" } });
  });

  it("a delete is seen at once", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    await get();
    await deleteIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: DD }, core.deps);
    expect(((await rejectionOf(get())) as AppError).code).toBe("integration_not_found");
  });

  it("an invalidation during an in-flight load: that load's (stale) result is not cached, a later call does not join it", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    const g = gate();
    let reads = 0;
    core.store.hooks.afterGet = async () => {
      if (++reads === 1) await g.promise; // the first load has read version 1 and waits
    };
    const calls = counter();
    const stale = get();
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(1);

    // A replacement lands (and invalidates) while that load is in flight.
    await setupIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: DD, input: { credential: credentialFor("dd-key-two-0123456789") } }, core.raw);
    const fresh = await get(); // must not join the stale flight
    expect(fresh).toMatchObject({ version: 2, credential: { api_key: "dd-key-two-0123456789" } });

    g.open();
    expect(await stale).toMatchObject({ version: 1 });
    expect(calls()).toEqual({ reads: 2, decrypts: 2 });

    // The cache holds version 2: the stale load finished last but did not overwrite it.
    expect(await get()).toMatchObject({ version: 2 });
    expect(calls()).toEqual({ reads: 0, decrypts: 0 });
  });

  it("an invalidation during an in-flight load with no newer load: the next call loads again", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    const g = gate();
    let reads = 0;
    core.store.hooks.afterGet = async () => {
      if (++reads === 1) await g.promise;
    };
    const calls = counter();
    const inflight = get();
    await new Promise((r) => setImmediate(r));
    core.deps.cache.invalidate(ORG, DD);
    g.open();
    await inflight;
    await get();
    expect(calls()).toEqual({ reads: 2, decrypts: 2 });
  });
});

// ---------------------------------------------------------------------------------------------

describe("LRU bound", () => {
  const providers = ["saas_a1", "saas_b2", "saas_c3", "saas_d4"] as const;

  async function startWithFour() {
    await start({ CREDENTIAL_CACHE_MAX_ENTRIES: "3" });
    for (const p of providers) await setup(`key-for-${p}-000000`, p);
  }

  it("maxEntries 3, four keys → the least recently loaded is evicted", async () => {
    await startWithFour();
    const calls = counter();
    for (const p of providers) await get(p);
    expect(calls().reads).toBe(4);
    expect(core.deps.cache.size).toBe(3);

    for (const p of ["saas_b2", "saas_c3", "saas_d4"]) await get(p);
    expect(calls().reads).toBe(0);
    await get("saas_a1");
    expect(calls().reads).toBe(1);
  });

  it("a hit refreshes recency: the least recently used goes, not the oldest loaded", async () => {
    await startWithFour();
    const calls = counter();
    await get("saas_a1");
    await get("saas_b2");
    await get("saas_c3");
    await get("saas_a1"); // a1 is now the most recently used
    await get("saas_d4"); // evicts b2
    expect(calls().reads).toBe(4);
    for (const p of ["saas_a1", "saas_c3", "saas_d4"]) await get(p);
    expect(calls().reads).toBe(0);
    await get("saas_b2");
    expect(calls().reads).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the returned credential", () => {
  it("is frozen, outside and in", async () => {
    await start();
    await setup("dd-key-one-0123456789");
    const cred = await get();
    expect(Object.isFrozen(cred)).toBe(true);
    expect(Object.isFrozen(cred.credential)).toBe(true);
    expect(() => {
      (cred.credential as Record<string, unknown>).api_key = "changed";
    }).toThrow(TypeError);
    expect(() => {
      (cred as { version: number }).version = 99;
    }).toThrow(TypeError);
    expect((await get()).credential.api_key).toBe("dd-key-one-0123456789");
  });

  it("is frozen even when it is not cached (TTL 0), since concurrent callers share it", async () => {
    await start({ CREDENTIAL_CACHE_TTL_MS: "0" });
    await setup("dd-key-one-0123456789");
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a!.credential)).toBe(true);
  });

  it("carries org, provider, the row's id and version, fingerprint, status and the metadata", async () => {
    await start();
    const res = await setup("dd-key-one-0123456789");
    expect(await get()).toEqual({
      org: ORG,
      provider: DD,
      credentialId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      version: 1,
      fingerprint: res.integration.fingerprint,
      status: "active",
      credential: credentialFor("dd-key-one-0123456789"),
      metadata: {},
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("CredentialCache on its own", () => {
  function cacheWith(opts: { ttlMs?: number; maxEntries?: number } = {}) {
    const clock = new FakeClock();
    const cache = new CredentialCache({ ttlMs: opts.ttlMs ?? 1000, maxEntries: opts.maxEntries ?? 10, now: clock.now });
    let loads = 0;
    const load = (version = 1) => async (): Promise<RuntimeCredential> => {
      loads++;
      return { org: "o", provider: "p", credentialId: "c1", version, fingerprint: "00000000", status: "active", credential: {} };
    };
    return { cache, clock, load, loads: () => loads };
  }

  it("entries expire exactly after ttlMs", async () => {
    const { cache, clock, load, loads } = cacheWith({ ttlMs: 1000 });
    await cache.get("o", "p", load());
    clock.advance(999);
    await cache.get("o", "p", load());
    expect(loads()).toBe(1);
    clock.advance(1);
    await cache.get("o", "p", load());
    expect(loads()).toBe(2);
    expect(clock.now()).toBe(CLOCK_START + 1000);
  });

  it("org and provider are both part of the key (no collision across orgs)", async () => {
    const { cache, load, loads } = cacheWith();
    await cache.get("o", "p", load(1));
    const other = await cache.get("o2", "p", load(2));
    const otherProvider = await cache.get("o", "p2", load(3));
    expect(loads()).toBe(3);
    expect(other.version).toBe(2);
    expect(otherProvider.version).toBe(3);
  });

  it("a rejected load is shared by its concurrent callers and not kept", async () => {
    const { cache, load, loads } = cacheWith();
    let calls = 0;
    const failing = async (): Promise<RuntimeCredential> => {
      calls++;
      throw new Error("boom");
    };
    const errs = await Promise.all(Array.from({ length: 10 }, () => rejectionOf(cache.get("o", "p", failing))));
    expect(errs.every((e) => (e as Error).message === "boom")).toBe(true);
    expect(calls).toBe(1);
    expect(cache.size).toBe(0);
    await cache.get("o", "p", load());
    expect(loads()).toBe(1);
  });

  it("clear() empties the cache and drops in-flight results", async () => {
    const { cache, load, loads } = cacheWith();
    await cache.get("o", "p", load());
    const g = gate();
    const inflight = cache.get("o", "q", async () => {
      await g.promise;
      return load()();
    });
    cache.clear();
    expect(cache.size).toBe(0);
    g.open();
    await inflight;
    expect(cache.size).toBe(0);
    await cache.get("o", "p", load());
    expect(loads()).toBe(3);
  });
});
