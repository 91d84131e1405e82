import "server-only";
import type { Pool, PoolClient } from "pg";
import { inTransaction, schemaOnFirstUse } from "../auth/pg-pool";
import { AUDIT_COLUMNS, auditTablesSql, batchOrg, eventToParams, rowToEvent, type AuditListQuery, type AuditRow, type AuditStore } from "./audit-store";
import { eventHash, newHead, withMac, type ChainedAuditEvent, type ChainHead } from "./chain";
import type { AuditEvent } from "./events";

// The same tables as SqliteAuditStore's. `at` is TIMESTAMPTZ (microseconds, so the millisecond
// ISO strings come back unchanged and the hashes still match). A trigger makes audit_events
// append-only: UPDATE and TRUNCATE always fail, DELETE only succeeds inside prune(), which sets
// the transaction-local cm.audit_prune.
const SCHEMA = `
  ${auditTablesSql({ int: "BIGINT", time: "TIMESTAMPTZ" })}
  CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' AND current_setting('cm.audit_prune', true) = 'on' THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (only retention deletes)';
  END
  $$;
  DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
  CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
  DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
  CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
`;

const INSERT_ROWS = 1000;

type PgRow = Omit<AuditRow, "at" | "seq"> & { at: Date; seq: string | number };

const fromPg = (r: PgRow) => rowToEvent({ ...r, at: r.at.toISOString(), seq: Number(r.seq) });

/**
 * AuditStore in Postgres (AUTH_DATABASE_URL), next to the auth tables. Appends lock the org's head
 * row (SELECT … FOR UPDATE) for the transaction, so appends for one org serialize across every
 * instance and the chain never forks; other orgs proceed in parallel. The pool belongs to the
 * caller (normally sharedAuthPool).
 */
export class PostgresAuditStore implements AuditStore {
  readonly backend = "postgres" as const;
  private closed = false;
  private readonly schema: () => Promise<void>;

  constructor(
    private readonly pool: Pool,
    private readonly key: Buffer,
  ) {
    this.schema = schemaOnFirstUse(pool, "credential-manager.audit-store.schema", SCHEMA);
  }

  private async migrated(): Promise<void> {
    if (this.closed) throw new Error("The audit store is closed.");
    await this.schema();
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    await this.migrated();
    return inTransaction(this.pool, fn);
  }

  private async query<R extends object>(text: string, values: unknown[] = []): Promise<R[]> {
    await this.migrated();
    return (await this.pool.query(text, values)).rows as R[];
  }

  /** The org's head, locked for this transaction; created (at seq 0) if the org has none yet. */
  private async lockHead(c: PoolClient, org: string, create: boolean): Promise<ChainHead | null> {
    if (create) {
      const h = newHead(this.key, org);
      await c.query(
        "INSERT INTO audit_chain_heads (org, last_seq, last_hash, pruned_seq, pruned_hash, mac) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org) DO NOTHING",
        [h.org, h.lastSeq, h.lastHash, h.prunedSeq, h.prunedHash, h.mac],
      );
    }
    const { rows } = await c.query<HeadRow>("SELECT org, last_seq, last_hash, pruned_seq, pruned_hash, mac FROM audit_chain_heads WHERE org = $1 FOR UPDATE", [org]);
    return rows[0] ? toHead(rows[0]) : null;
  }

  private async writeHead(c: PoolClient, h: ChainHead): Promise<void> {
    await c.query("UPDATE audit_chain_heads SET last_seq = $2, last_hash = $3, pruned_seq = $4, pruned_hash = $5, mac = $6 WHERE org = $1", [
      h.org,
      h.lastSeq,
      h.lastHash,
      h.prunedSeq,
      h.prunedHash,
      h.mac,
    ]);
  }

  async append(event: AuditEvent): Promise<ChainedAuditEvent> {
    return (await this.appendMany([event]))[0]!;
  }

  async appendMany(events: readonly AuditEvent[]): Promise<ChainedAuditEvent[]> {
    if (events.length === 0) return [];
    const org = batchOrg(events);
    return this.tx(async (c) => {
      let head = (await this.lockHead(c, org, true))!;
      const out: ChainedAuditEvent[] = [];
      const params: unknown[] = [];
      for (const e of events) {
        const seq = head.lastSeq + 1;
        const hash = eventHash(this.key, seq, head.lastHash, e);
        params.push(...eventToParams(e, seq, head.lastHash, hash));
        out.push({ ...e, seq, prev_hash: head.lastHash, hash });
        head = { ...head, lastSeq: seq, lastHash: hash };
      }
      // Multi-row INSERTs of up to 1,000 rows (17,000 parameters): the Bind message counts a
      // statement's parameters in an Int16 (https://www.postgresql.org/docs/current/protocol-message-formats.html).
      for (let start = 0; start < out.length; start += INSERT_ROWS) {
        const n = Math.min(INSERT_ROWS, out.length - start);
        const rows = Array.from({ length: n }, (_, r) => `(${Array.from({ length: 17 }, (_, i) => `$${r * 17 + i + 1}`).join(", ")})`);
        await c.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ${rows.join(", ")}`, params.slice(start * 17, (start + n) * 17));
      }
      await this.writeHead(c, withMac(this.key, head));
      return out;
    });
  }

  async list(org: string, q: AuditListQuery): Promise<ChainedAuditEvent[]> {
    const where = ["org = $1"];
    const params: unknown[] = [org];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (q.beforeSeq !== undefined) add("seq < ?", q.beforeSeq);
    if (q.provider) add("provider = ?", q.provider);
    if (q.action) add("action = ?", q.action);
    params.push(q.limit);
    const rows = await this.query<PgRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT $${params.length}`, params);
    return rows.map(fromPg);
  }

  async readChain(org: string, afterSeq: number, limit: number): Promise<ChainedAuditEvent[]> {
    const rows = await this.query<PgRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [org, afterSeq, limit]);
    return rows.map(fromPg);
  }

  async getHead(org: string): Promise<ChainHead | null> {
    const rows = await this.query<HeadRow>("SELECT org, last_seq, last_hash, pruned_seq, pruned_hash, mac FROM audit_chain_heads WHERE org = $1", [org]);
    return rows[0] ? toHead(rows[0]) : null;
  }

  async listChainOrgs(): Promise<string[]> {
    // COLLATE "C": byte order, as SQLite sorts.
    const rows = await this.query<{ org: string }>('SELECT org FROM (SELECT org FROM audit_chain_heads UNION SELECT org FROM audit_events) o ORDER BY org COLLATE "C"');
    return rows.map((r) => r.org);
  }

  async prune(cutoff: Date): Promise<number> {
    const orgs = await this.query<{ org: string }>("SELECT DISTINCT org FROM audit_events WHERE at < $1", [cutoff]);
    let deleted = 0;
    for (const { org } of orgs) {
      deleted += await this.tx(async (c) => {
        const head = await this.lockHead(c, org, false);
        if (!head) return 0; // a chain without a head is already broken: keep the evidence
        const { rows } = await c.query<{ seq: string | null }>("SELECT MIN(seq) AS seq FROM audit_events WHERE org = $1 AND at >= $2", [org, cutoff]);
        const upTo = (rows[0]?.seq !== null && rows[0]?.seq !== undefined ? Number(rows[0].seq) : head.lastSeq + 1) - 1;
        if (upTo <= head.prunedSeq) return 0;
        const last = await c.query<{ hash: string }>("SELECT hash FROM audit_events WHERE org = $1 AND seq = $2", [org, upTo]);
        if (!last.rows[0]) return 0; // a hole where the pruned point would be: broken already, keep it as it is
        await c.query("SET LOCAL cm.audit_prune = 'on'");
        const res = await c.query("DELETE FROM audit_events WHERE org = $1 AND seq <= $2", [org, upTo]);
        await c.query("SET LOCAL cm.audit_prune = 'off'");
        await this.writeHead(c, withMac(this.key, { ...head, prunedSeq: upTo, prunedHash: last.rows[0].hash }));
        return res.rowCount ?? 0;
      });
    }
    return deleted;
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface HeadRow {
  org: string;
  last_seq: string | number;
  last_hash: string;
  pruned_seq: string | number;
  pruned_hash: string;
  mac: string;
}

function toHead(r: HeadRow): ChainHead {
  return { org: r.org, lastSeq: Number(r.last_seq), lastHash: r.last_hash, prunedSeq: Number(r.pruned_seq), prunedHash: r.pruned_hash, mac: r.mac };
}
