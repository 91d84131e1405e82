import "server-only";
import type { AuditStore } from "./audit-store";
import { eventHash, GENESIS_HASH, headMac, macEquals } from "./chain";

export interface ChainBreak {
  /** The first event that does not verify (or, when the newest were removed, the seq that is missing). */
  event_id: string | null;
  seq: number;
  at: string | null;
  reason: string;
}

export interface OrgChainReport {
  org: string;
  ok: boolean;
  /** Events checked (kept ones; pruned ones are gone by design). */
  events: number;
  first_broken: ChainBreak | null;
}

const PAGE = 1000;

/**
 * Walks an org's chain from the retention point in the head row to its newest event: every seq
 * present once and in order, every prev_hash the previous event's hash, every hash recomputed with
 * the key, and the last one equal to the head's. Stops at the first break: an edited row fails its
 * hash, a removed row leaves a gap in seq, removed newest rows fall short of the head, and a head
 * that was edited to hide either fails its MAC.
 */
export async function verifyOrgChain(store: AuditStore, key: Buffer, org: string): Promise<OrgChainReport> {
  const head = await store.getHead(org);
  const broken = (events: number, b: ChainBreak): OrgChainReport => ({ org, ok: false, events, first_broken: b });
  const first = await store.readChain(org, 0, 1);
  if (!head) {
    if (first.length === 0) return { org, ok: true, events: 0, first_broken: null };
    return broken(0, { event_id: first[0]!.id, seq: first[0]!.seq, at: first[0]!.at, reason: "the org's chain head row is missing (deleted or never written)" });
  }
  if (!macEquals(head.mac, headMac(key, head))) {
    return broken(0, { event_id: null, seq: head.lastSeq, at: null, reason: "the chain head row was altered (its MAC does not match)" });
  }
  let expectedSeq = head.prunedSeq + 1;
  let expectedPrev = head.prunedSeq === 0 ? GENESIS_HASH : head.prunedHash;
  let checked = 0;
  for (let after = 0; ; ) {
    const page = await store.readChain(org, after, PAGE);
    if (page.length === 0) break;
    for (const e of page) {
      if (e.seq < expectedSeq) {
        return broken(checked, { event_id: e.id, seq: e.seq, at: e.at, reason: `event ${e.seq} is older than the retention point (${head.prunedSeq}): it was re-inserted` });
      }
      if (e.seq > expectedSeq) {
        const missing = e.seq - 1 === expectedSeq ? `event ${expectedSeq} is` : `events ${expectedSeq}–${e.seq - 1} are`;
        return broken(checked, { event_id: e.id, seq: e.seq, at: e.at, reason: `${missing} missing before this one (deleted)` });
      }
      if (e.prev_hash !== expectedPrev) {
        return broken(checked, { event_id: e.id, seq: e.seq, at: e.at, reason: "its link to the previous event does not match (a row was replaced or the chain re-ordered)" });
      }
      if (!macEquals(e.hash, eventHash(key, e.seq, e.prev_hash, e))) {
        return broken(checked, { event_id: e.id, seq: e.seq, at: e.at, reason: "its contents were altered after it was written (hash mismatch)" });
      }
      checked++;
      expectedSeq++;
      expectedPrev = e.hash;
    }
    after = page[page.length - 1]!.seq;
  }
  if (expectedSeq - 1 !== head.lastSeq || expectedPrev !== head.lastHash) {
    const reason =
      expectedSeq - 1 < head.lastSeq
        ? `the newest ${head.lastSeq - (expectedSeq - 1) === 1 ? "event was" : `${head.lastSeq - (expectedSeq - 1)} events were`} removed (the head says ${head.lastSeq})`
        : "the newest event does not match the chain head";
    return broken(checked, { event_id: null, seq: expectedSeq, at: null, reason });
  }
  return { org, ok: true, events: checked, first_broken: null };
}

/** Every org's chain (or one org's). */
export async function verifyAuditChains(store: AuditStore, key: Buffer, org?: string): Promise<OrgChainReport[]> {
  const orgs = org ? [org] : await store.listChainOrgs();
  const out: OrgChainReport[] = [];
  for (const o of orgs) out.push(await verifyOrgChain(store, key, o));
  return out;
}
