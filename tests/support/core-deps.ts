/**
 * Real core dependencies for unit tests of lib/integrations: a temp DATA_DIR with the embedded
 * SQLite store and the local key ring, a fake clock, and probes around the cipher and the store
 * that count calls and let a test fail, delay or interleave any call on demand.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino, { type Logger } from "pino";

import type { Actor } from "@/lib/auth/actor";
import { createOrganization } from "@/lib/auth/organizations";
import { parseEnv } from "@/lib/env";
import { createDeps, type CoreDeps } from "@/lib/deps";
import type { AadContext, Cipher } from "@/lib/kms/cipher";
import type { CredentialPatch, CredentialRow, CredentialStore } from "@/lib/storage/store";

/** 2026-09-15T12:00:00Z: a fixed start, so timestamps and rate-limit windows are deterministic. */
export const CLOCK_START = Date.UTC(2026, 8, 15, 12, 0, 0);

export class FakeClock {
  constructor(public t = CLOCK_START) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A hook runs before (or after) the real call; it may throw (fault injection) or await (interleaving). */
type Hook<A extends unknown[]> = ((...args: A) => void | Promise<void>) | undefined;

export interface CipherProbe {
  cipher: Cipher;
  calls: { encrypt: number; decrypt: number };
  hooks: { beforeEncrypt?: Hook<[AadContext]>; beforeDecrypt?: Hook<[AadContext]> };
}

export function probeCipher(inner: Cipher): CipherProbe {
  const calls = { encrypt: 0, decrypt: 0 };
  const hooks: CipherProbe["hooks"] = {};
  const cipher: Cipher = {
    backend: inner.backend,
    async encrypt(plaintext, ctx) {
      calls.encrypt++;
      await hooks.beforeEncrypt?.(ctx);
      return inner.encrypt(plaintext, ctx);
    },
    async decrypt(ciphertext, ctx) {
      calls.decrypt++;
      await hooks.beforeDecrypt?.(ctx);
      return inner.decrypt(ciphertext, ctx);
    },
    primaryKeyVersion: () => inner.primaryKeyVersion(),
    ping: () => inner.ping(),
  };
  return { cipher, calls, hooks };
}

export interface StoreProbe {
  store: CredentialStore;
  calls: { get: number; listByOrg: number; listSummaries: number; put: number; update: number; delete: number };
  hooks: {
    beforeGet?: Hook<[string, string]>;
    afterGet?: Hook<[string, string, CredentialRow | null]>;
    beforePut?: Hook<[CredentialRow, number | null]>;
    beforeUpdate?: Hook<[string, string, number, CredentialPatch]>;
    beforeDelete?: Hook<[string, string, number | undefined]>;
  };
}

export function probeStore(inner: CredentialStore): StoreProbe {
  const calls = { get: 0, listByOrg: 0, listSummaries: 0, put: 0, update: 0, delete: 0 };
  const hooks: StoreProbe["hooks"] = {};
  const store: CredentialStore = {
    backend: inner.backend,
    async get(org, provider) {
      calls.get++;
      await hooks.beforeGet?.(org, provider);
      const row = await inner.get(org, provider);
      await hooks.afterGet?.(org, provider, row);
      return row;
    },
    async listByOrg(org) {
      calls.listByOrg++;
      return inner.listByOrg(org);
    },
    async listSummaries(org) {
      calls.listSummaries++;
      return inner.listSummaries(org);
    },
    async put(row, expectedVersion) {
      calls.put++;
      await hooks.beforePut?.(row, expectedVersion);
      return inner.put(row, expectedVersion);
    },
    async update(org, provider, expectedVersion, patch, guard) {
      calls.update++;
      await hooks.beforeUpdate?.(org, provider, expectedVersion, patch);
      return inner.update(org, provider, expectedVersion, patch, guard);
    },
    async delete(org, provider, expectedVersion) {
      calls.delete++;
      await hooks.beforeDelete?.(org, provider, expectedVersion);
      return inner.delete(org, provider, expectedVersion);
    },
    listPage: (opts) => inner.listPage(opts),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { store, calls, hooks };
}

export interface TestCore {
  /** The deps the use cases get: the probed cipher and store, the fake clock. */
  deps: CoreDeps;
  /** The same pieces without the probes (for a "concurrent" actor inside a hook, or direct row edits). */
  raw: CoreDeps;
  cipher: CipherProbe;
  store: StoreProbe;
  clock: FakeClock;
  dataDir: string;
  /** Creates an org; returns its admin API-key actor. */
  addOrg(slug: string): Promise<Actor>;
  close(): Promise<void>;
}

export const silentLogger = (): Logger => pino({ level: "silent" });

export function adminOf(org: string): Actor {
  return { kind: "api_key", org, role: "admin", keyId: "test" };
}

export function viewerOf(org: string): Actor {
  return { kind: "api_key", org, role: "viewer", keyId: "test-viewer" };
}

export const SYSTEM_ACTOR: Actor = { kind: "system", name: "test" };

/**
 * Real deps in a fresh temp DATA_DIR. `env` adds or overrides variables (e.g. OPENAI_API_BASE,
 * ORG_RATE_LIMIT_PER_MINUTE, CREDENTIAL_CACHE_TTL_MS); `overrides` replaces pieces of the deps.
 */
export async function makeCore(
  opts: { env?: Record<string, string | undefined>; overrides?: Partial<CoreDeps>; log?: Logger; dataDir?: string } = {},
): Promise<TestCore> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "cm-core-"));
  const env = parseEnv({ DATA_DIR: dataDir, CONNECTION_TEST_TIMEOUT_MS: "300", LOG_LEVEL: "silent", ...opts.env });
  const clock = new FakeClock();
  const raw = createDeps(env, { log: opts.log ?? silentLogger(), now: clock.now, ...opts.overrides });
  const cipher = probeCipher(raw.cipher);
  const store = probeStore(raw.store);
  const deps: CoreDeps = { ...raw, cipher: cipher.cipher, store: store.store };
  return {
    deps,
    raw,
    cipher,
    store,
    clock,
    dataDir,
    async addOrg(slug) {
      await createOrganization({ actor: SYSTEM_ACTOR, slug }, deps);
      return adminOf(slug);
    },
    async close() {
      await raw.store.close();
      await raw.auth.close();
      await raw.mailQueue.close();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A promise with its resolve exposed: a gate a hook awaits until the test opens it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Resolves with the rejection of `p` (fails the test if it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the promise to reject, but it resolved");
}
