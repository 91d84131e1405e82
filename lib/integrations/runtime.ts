import "server-only";
import type { IntegrationStatus } from "../storage/store";

/** What a pipeline gets back: the decrypted credential and the facts it needs about it. */
export interface RuntimeCredential {
  org: string;
  provider: string;
  /** The stored row's id, new at every setup: a version number starts again at 1 after a delete. */
  credentialId: string;
  version: number;
  fingerprint: string;
  status: IntegrationStatus;
  credential: Readonly<Record<string, unknown>>;
  /** The integration's metadata (e.g. aws_keys' region, which picks the key's partition). */
  metadata?: Readonly<Record<string, unknown>>;
}

interface Entry {
  value: RuntimeCredential;
  expiresAt: number;
}

/**
 * The pipelines' decrypt cache: in-process only (plaintext never goes to a shared cache), TTL
 * (5 minutes by default), bounded (least recently used goes first), single-flight (N concurrent
 * misses make one store read and one decrypt), failures never cached. Setup, delete and rotation
 * in this process invalidate; other processes are told at once with AUTH_DATABASE_URL (LISTEN/NOTIFY),
 * and otherwise, or if a notification is lost, see a change within the TTL.
 */
export class CredentialCache {
  private entries = new Map<string, Entry>();
  private inflight = new Map<string, { generation: number; promise: Promise<RuntimeCredential> }>();
  /** Bumped per key on invalidation, so a load that started before it is not cached after it. */
  private generations = new Map<string, number>();
  private listeners = new Set<(org: string, provider: string) => void>();

  constructor(
    private readonly opts: { ttlMs: number; maxEntries: number; now: () => number },
  ) {}

  private static key(org: string, provider: string) {
    return `${org}\u0000${provider}`;
  }

  async get(org: string, provider: string, load: () => Promise<RuntimeCredential>): Promise<RuntimeCredential> {
    const key = CredentialCache.key(org, provider);
    const now = this.opts.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) {
      // Refresh recency for the LRU bound.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    if (hit) this.entries.delete(key);

    const generation = this.generations.get(key) ?? 0;
    const running = this.inflight.get(key);
    if (running && running.generation === generation) return running.promise;

    const flight: { generation: number; promise: Promise<RuntimeCredential> } = { generation, promise: undefined! };
    flight.promise = (async () => {
      await null; // let the flight be registered before load() can settle
      try {
        // Frozen whether or not it is cached: concurrent callers share this one object.
        const value = Object.freeze(await load()) as RuntimeCredential;
        if ((this.generations.get(key) ?? 0) === generation && this.opts.ttlMs > 0) {
          this.entries.set(key, { value, expiresAt: this.opts.now() + this.opts.ttlMs });
          while (this.entries.size > this.opts.maxEntries) {
            const oldest = this.entries.keys().next().value as string;
            this.entries.delete(oldest);
          }
        }
        return value;
      } finally {
        if (this.inflight.get(key) === flight) this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, flight);
    return flight.promise;
  }

  /**
   * Called on every invalidation made in this process (setup, delete, rotation), so other instances
   * can be told (lib/integrations/cache-invalidation-postgres.ts); not for invalidations received from them.
   */
  onInvalidate(listener: (org: string, provider: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  invalidate(org: string, provider: string, opts: { fromPeer?: boolean } = {}): void {
    if (!opts.fromPeer) for (const l of this.listeners) l(org, provider);
    const key = CredentialCache.key(org, provider);
    this.entries.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.inflight.delete(key);
  }

  clear(): void {
    // In-flight keys too: a load that started before clear() must not be cached after it.
    for (const key of new Set([...this.entries.keys(), ...this.inflight.keys()])) {
      this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    }
    this.entries.clear();
    this.inflight.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
