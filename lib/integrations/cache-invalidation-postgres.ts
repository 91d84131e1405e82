import "server-only";
import crypto from "node:crypto";
import { Client, type Pool } from "pg";
import type { Logger } from "pino";
import type { CredentialCache } from "./runtime";

/** The Postgres channel the instances tell each other on (only org and provider ids travel; never a credential). */
export const CACHE_CHANNEL = "credential_cache_invalidate";

/**
 * Several instances on one AUTH_DATABASE_URL: a setup, delete or rotation on one drops the
 * decrypted credential from every instance's cache at once. Each invalidation made here is
 * published with NOTIFY; each instance LISTENs on a connection of its own and invalidates what it
 * hears from the others (https://www.postgresql.org/docs/current/sql-notify.html: notifications
 * reach every listening session once the sending transaction commits). When the listening
 * connection drops, notifications may be lost meanwhile: the whole cache is cleared on reconnect,
 * and the TTL (CREDENTIAL_CACHE_TTL_MS) stays the bound in every case.
 */
export class PostgresCacheInvalidation {
  readonly origin = crypto.randomBytes(8).toString("hex");
  private client: Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private connected: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly opts: { url: string; pool: Pool; cache: CredentialCache; log: Logger },
  ) {}

  /** Publishes this process's invalidations (any process: the CLI's rotation and deletes too). */
  publishFrom(cache: CredentialCache): void {
    this.unsubscribe ??= cache.onInvalidate((org, provider) => {
      const payload = JSON.stringify({ o: this.origin, org, provider });
      this.opts.pool.query("SELECT pg_notify($1, $2)", [CACHE_CHANNEL, payload]).catch((e: unknown) => {
        this.opts.log.warn({ org, provider, err_name: (e as Error)?.name ?? "Error" }, "could not tell other instances to drop a cached credential (their TTL still applies)");
      });
    });
  }

  /** Listens for the other instances' invalidations (servers only: a listening connection keeps a CLI alive). */
  listen(): Promise<void> {
    this.connected ??= this.connect();
    return this.connected;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.opts.url });
    client.on("notification", (n) => {
      if (n.channel !== CACHE_CHANNEL || !n.payload) return;
      try {
        const m = JSON.parse(n.payload) as { o?: string; org?: string; provider?: string };
        if (m.o === this.origin || typeof m.org !== "string" || typeof m.provider !== "string") return;
        this.opts.cache.invalidate(m.org, m.provider, { fromPeer: true });
      } catch {
        /* not ours */
      }
    });
    const reconnect = () => {
      if (this.stopped || this.client !== client) return;
      this.client = null;
      client.end().catch(() => {});
      this.opts.log.warn({ channel: CACHE_CHANNEL }, "lost the cache-invalidation connection; reconnecting (the cache is cleared on reconnect)");
      this.retryTimer = setTimeout(() => {
        this.connect().catch(() => {});
      }, 1000);
      this.retryTimer.unref();
    };
    client.on("error", reconnect);
    client.on("end", reconnect);
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CACHE_CHANNEL}`);
      // Whatever was missed while not listening (or before the first LISTEN) is dropped.
      this.opts.cache.clear();
    } catch (e) {
      reconnect();
      throw e;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
