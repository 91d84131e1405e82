import crypto from "node:crypto";
import path from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { loadOrCreateAuditKey } from "@/lib/audit/audit-key";
import { SqliteAuditStore } from "@/lib/audit/audit-store-sqlite";
import type { AuditEvent } from "@/lib/audit/events";
import { AUDIT_EXPORTS_PER_MINUTE, MAX_AUDIT_EXPORT } from "@/lib/audit/export-csv";
import { baseUrl, createOrganization, signUp, whileProbing, type Session } from "./support";

/**
 * "One request freezes the server for everyone" (docs/security.md, Stalls), by the Activity CSV
 * export. An org's owner or admin exports up to 50,000 events. Measured before the fix (the
 * store, the page checks and the CSV for 50,000 events, as the route ran them): 0.76-0.90 s in
 * one block of the event loop per export, since SQLite reads are synchronous and nothing between
 * the pages waited on I/O; parallel exports queued every other request behind all of them, and
 * nothing limited how many. Now the CSV is streamed a page at a time with the event loop given
 * back between pages, and an org has AUDIT_EXPORTS_PER_MINUTE exports a minute. The bound on
 * /healthz (1 s, as in stalls.test.ts) is above a normal answer (a few ms) and below what four
 * unfixed exports hold the loop for (over 3 s): it checks that the attack failed, not speed.
 */
const STALL_BOUND_MS = 1000;
const PARALLEL = 4;

let owner: Session;
let org: string;

beforeAll(async () => {
  owner = await signUp();
  org = await createOrganization(owner);
  // 50,000 events written straight into the server's audit store (its file, its chain key).
  const dataDir = inject("dataDir");
  const store = new SqliteAuditStore(path.join(dataDir, "auth.sqlite"), loadOrCreateAuditKey(dataDir, process.env.AUDIT_HMAC_KEY));
  const at = new Date().toISOString();
  const ev = (i: number): AuditEvent => ({
    id: `ev_${crypto.randomBytes(8).toString("hex")}`,
    at,
    org,
    actor: { type: "user", id: `u_${i % 7}`, email: i % 2 ? `=cmd|' /C calc'!A${i}` : `member${i % 7}@example.com` },
    action: "integration.setup",
    provider: "aws",
    fingerprint_before: null,
    fingerprint_after: "0123abcd",
    outcome: "ok",
    request_id: `req_${i}`,
    client_ip: "203.0.113.9",
    target: `label, with "quotes" ${i}`,
  });
  try {
    for (let b = 0; b < MAX_AUDIT_EXPORT / 1000; b++) await store.appendMany(Array.from({ length: 1000 }, (_, j) => ev(b * 1000 + j)));
  } finally {
    await store.close();
  }
}, 120_000);

async function exportCsv(slug = org) {
  const r = await fetch(`${baseUrl()}/orgs/${slug}/activity/export`, { headers: { cookie: owner.cookie } });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

describe("the Activity CSV export cannot hold the event loop", () => {
  it("one export of 50,000 events: complete, formulas defused, /healthz answered throughout", async () => {
    const { result: r, worstMs, samples } = await whileProbing(() => exportCsv());
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = r.text.split("\r\n");
    expect(lines.at(-1)).toBe("");
    // The header, then the newest MAX_AUDIT_EXPORT events (the seeded ones: the org's own are older).
    expect(lines.length - 2).toBe(MAX_AUDIT_EXPORT);
    expect(lines[1]).toMatch(/,'=cmd\|' \/C calc'!A49999,/);
    expect(r.text).not.toMatch(/,=cmd/);
    expect(samples).toBeGreaterThan(0);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it(`${PARALLEL} exports in parallel: /healthz still answered within the bound`, async () => {
    const { result, worstMs, samples } = await whileProbing(() => Promise.all(Array.from({ length: PARALLEL }, () => exportCsv())));
    for (const r of result) {
      expect(r.status).toBe(200);
      expect(r.text.split("\r\n").length - 2).toBe(MAX_AUDIT_EXPORT);
    }
    expect(samples).toBeGreaterThan(0);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it("an org has AUDIT_EXPORTS_PER_MINUTE exports a minute; the next is 429 with Retry-After", async () => {
    const small = await createOrganization(owner); // a few events: the exports take milliseconds
    for (let i = 0; i < AUDIT_EXPORTS_PER_MINUTE; i++) expect((await exportCsv(small)).status).toBe(200);
    const refused = await exportCsv(small);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.text).toMatch(/Too many activity exports/);
    // Another org's budget is its own.
    expect((await exportCsv(org)).status).toBe(200);
  });
});
