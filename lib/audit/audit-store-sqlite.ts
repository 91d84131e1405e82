import "server-only";
import { SqliteFileStore } from "../storage/sqlite-file";
import { AUDIT_COLUMNS, auditTablesSql, batchOrg, eventToParams, rowToEvent, type AuditListQuery, type AuditRow, type AuditStore } from "./audit-store";
import { eventHash, newHead, withMac, type ChainedAuditEvent, type ChainHead } from "./chain";
import type { AuditEvent } from "./events";

/**
 * AuditStore in SQLite: DATA_DIR/auth.sqlite, next to the org, API-key and Better Auth tables.
 * Appends run in BEGIN IMMEDIATE transactions, which take SQLite's write lock up front, so appends
 * from the server and the CLI (separate processes on one file) serialize. Triggers make the table
 * append-only: UPDATE is refused, and DELETE too unless prune() has put a permit for those rows
 * in the same transaction.
 */
const INSERT_EVENT = `INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${Array(17).fill("?").join(", ")})`;

export class SqliteAuditStore extends SqliteFileStore implements AuditStore {
  readonly backend = "sqlite" as const;
  // The append path's statements (every setup, validate and delete appends) go through stmt(): prepared once.
  private readonly appendTx: (org: string, events: readonly AuditEvent[]) => ChainedAuditEvent[];

  constructor(
    file: string,
    private readonly key: Buffer,
  ) {
    super(file);
    this.db.exec(`
      ${auditTablesSql({ int: "INTEGER", time: "TEXT" })}
      CREATE TABLE IF NOT EXISTS audit_prune_permits (
        org TEXT PRIMARY KEY,
        up_to_seq INTEGER NOT NULL
      );
      CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
      BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only');
      END;
      CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
      WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits p WHERE p.org = OLD.org AND p.up_to_seq >= OLD.seq)
      BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only (only retention deletes)');
      END;
    `);
    // Built once: one IMMEDIATE transaction per append or batch (head read, events, head write).
    this.appendTx = this.db.transaction((org: string, events: readonly AuditEvent[]): ChainedAuditEvent[] => {
      let head = this.head(org) ?? newHead(this.key, org);
      const out: ChainedAuditEvent[] = [];
      for (const e of events) {
        const seq = head.lastSeq + 1;
        const hash = eventHash(this.key, seq, head.lastHash, e);
        this.stmt(INSERT_EVENT).run(...eventToParams(e, seq, head.lastHash, hash));
        out.push({ ...e, seq, prev_hash: head.lastHash, hash });
        head = { ...head, lastSeq: seq, lastHash: hash };
      }
      this.writeHead(withMac(this.key, head));
      return out;
    }).immediate;
  }

  private head(org: string): ChainHead | null {
    const r = this.stmt("SELECT org, last_seq, last_hash, pruned_seq, pruned_hash, mac FROM audit_chain_heads WHERE org = ?").get(org) as HeadRow | undefined;
    return r ? toHead(r) : null;
  }

  private writeHead(h: ChainHead): void {
    this
      .stmt(
        `INSERT INTO audit_chain_heads (org, last_seq, last_hash, pruned_seq, pruned_hash, mac) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (org) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash,
           pruned_seq = excluded.pruned_seq, pruned_hash = excluded.pruned_hash, mac = excluded.mac`,
      )
      .run(h.org, h.lastSeq, h.lastHash, h.prunedSeq, h.prunedHash, h.mac);
  }

  async append(event: AuditEvent): Promise<ChainedAuditEvent> {
    return (await this.appendMany([event]))[0]!;
  }

  async appendMany(events: readonly AuditEvent[]): Promise<ChainedAuditEvent[]> {
    if (events.length === 0) return [];
    return this.appendTx(batchOrg(events), events);
  }

  async list(org: string, q: AuditListQuery): Promise<ChainedAuditEvent[]> {
    const where = ["org = ?"];
    const params: unknown[] = [org];
    if (q.beforeSeq !== undefined) {
      where.push("seq < ?");
      params.push(q.beforeSeq);
    }
    if (q.provider) {
      where.push("provider = ?");
      params.push(q.provider);
    }
    if (q.action) {
      where.push("action = ?");
      params.push(q.action);
    }
    const rows = this.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`).all(...params, q.limit) as AuditRow[];
    return rows.map(rowToEvent);
  }

  async readChain(org: string, afterSeq: number, limit: number): Promise<ChainedAuditEvent[]> {
    const rows = this.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?`).all(org, afterSeq, limit) as AuditRow[];
    return rows.map(rowToEvent);
  }

  async getHead(org: string): Promise<ChainHead | null> {
    return this.head(org);
  }

  async listChainOrgs(): Promise<string[]> {
    const rows = this.db.prepare("SELECT org FROM audit_chain_heads UNION SELECT DISTINCT org FROM audit_events ORDER BY 1").all() as Array<{ org: string }>;
    return rows.map((r) => r.org);
  }

  async prune(cutoff: Date): Promise<number> {
    const cut = cutoff.toISOString();
    const orgs = this.db.prepare("SELECT DISTINCT org FROM audit_events WHERE at < ?").all(cut) as Array<{ org: string }>;
    let deleted = 0;
    for (const { org } of orgs) {
      const tx = this.db.transaction((): number => {
        const head = this.head(org);
        if (!head) return 0; // a chain without a head is already broken: keep the evidence
        const firstKept = this.db.prepare("SELECT MIN(seq) AS seq FROM audit_events WHERE org = ? AND at >= ?").get(org, cut) as { seq: number | null };
        const upTo = (firstKept.seq ?? head.lastSeq + 1) - 1;
        if (upTo <= head.prunedSeq) return 0;
        const last = this.db.prepare("SELECT hash FROM audit_events WHERE org = ? AND seq = ?").get(org, upTo) as { hash: string } | undefined;
        if (!last) return 0; // a hole where the pruned point would be: broken already, keep it as it is
        this.db.prepare("INSERT OR REPLACE INTO audit_prune_permits (org, up_to_seq) VALUES (?, ?)").run(org, upTo);
        const n = this.db.prepare("DELETE FROM audit_events WHERE org = ? AND seq <= ?").run(org, upTo).changes;
        this.db.prepare("DELETE FROM audit_prune_permits WHERE org = ?").run(org);
        this.writeHead(withMac(this.key, { ...head, prunedSeq: upTo, prunedHash: last.hash }));
        return n;
      });
      deleted += tx.immediate();
    }
    return deleted;
  }
}

interface HeadRow {
  org: string;
  last_seq: number;
  last_hash: string;
  pruned_seq: number;
  pruned_hash: string;
  mac: string;
}

function toHead(r: HeadRow): ChainHead {
  return { org: r.org, lastSeq: Number(r.last_seq), lastHash: r.last_hash, prunedSeq: Number(r.pruned_seq), prunedHash: r.pruned_hash, mac: r.mac };
}
