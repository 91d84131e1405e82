import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalize } from "../kms/fingerprint";
import { eventDetails, type AuditEvent } from "./events";

/**
 * The per-org hash chain that makes the audit trail tamper-evident (docs/security.md, "Audit
 * trail"). Each event carries its org-local sequence number, the previous event's hash and its own
 * hash = HMAC-SHA256(audit key, canonical [seq, prev_hash, every field]). A head row per org holds
 * the newest (seq, hash) and the point up to which retention pruned (seq, hash), MACed as well, so
 * removing the newest or the oldest events shows too. Keyed: someone who can write the database
 * but does not hold the key cannot recompute a hash after editing a row.
 */

/** prev_hash of an org's first event. */
export const GENESIS_HASH = "0".repeat(64);

export interface ChainedAuditEvent extends AuditEvent {
  seq: number;
  prev_hash: string;
  hash: string;
}

export interface ChainHead {
  org: string;
  lastSeq: number;
  lastHash: string;
  /** Events with seq ≤ prunedSeq were deleted by retention; prunedHash is the last one's hash. */
  prunedSeq: number;
  prunedHash: string;
  mac: string;
}

const mac = (key: Buffer, parts: unknown[]) => createHmac("sha256", key).update(canonicalize(parts), "utf8").digest("hex");

/** The hash of an event at `seq` following `prevHash`. */
export function eventHash(key: Buffer, seq: number, prevHash: string, e: AuditEvent): string {
  return mac(key, ["audit-event-v1", seq, prevHash, e.id, e.org, e.at, ...eventDetails(e)]);
}

export function headMac(key: Buffer, h: Omit<ChainHead, "mac">): string {
  return mac(key, ["audit-head-v1", h.org, h.lastSeq, h.lastHash, h.prunedSeq, h.prunedHash]);
}

export function newHead(key: Buffer, org: string): ChainHead {
  const h = { org, lastSeq: 0, lastHash: GENESIS_HASH, prunedSeq: 0, prunedHash: GENESIS_HASH };
  return { ...h, mac: headMac(key, h) };
}

export function withMac(key: Buffer, h: Omit<ChainHead, "mac">): ChainHead {
  return { ...h, mac: headMac(key, h) };
}

/** Constant-time comparison of two hex MACs. */
export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
