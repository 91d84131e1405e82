import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminOf, makeCore, rejectionOf, SYSTEM_ACTOR, viewerOf, type TestCore } from "@/tests/support/core-deps";
import { AppError } from "../errors";
import { auditEventsToCsv } from "./csv";
import type { AuditEvent } from "./events";
import { AUDIT_EXPORT_PAGE, AUDIT_EXPORTS_PER_MINUTE, exportAuditCsv } from "./export-csv";
import { listAuditEvents } from "./list-audit-events";

const ORG = "acme";
const SEEDED = AUDIT_EXPORT_PAGE * 4 + 17;
let core: TestCore;

beforeAll(async () => {
  core = await makeCore();
  await core.addOrg(ORG);
  const at = new Date(core.deps.now()).toISOString();
  const ev = (i: number): AuditEvent => ({
    id: `ev_${i}`,
    at,
    org: ORG,
    // Every third email starts a spreadsheet formula: the export must keep defusing it.
    actor: { type: "user", id: `u_${i % 5}`, email: i % 3 === 0 ? `=HYPERLINK("http://x/${i}")` : `m${i}@example.com` },
    action: "integration.setup",
    provider: "saas_datadog",
    fingerprint_before: null,
    fingerprint_after: "0123abcd",
    outcome: "ok",
    request_id: `req_${i}`,
    client_ip: "203.0.113.9",
    target: `label, "quoted" ${i}`,
  });
  await core.deps.audit.store.appendMany(Array.from({ length: SEEDED }, (_, i) => ev(i)));
});
afterAll(async () => {
  await core?.close();
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

async function everyEvent(): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: string | null = null;
  do {
    const p = await listAuditEvents({ actor: SYSTEM_ACTOR, org: ORG, query: { limit: 500, ...(cursor ? { cursor } : {}) } }, core.deps);
    out.push(...p.events);
    cursor = p.next_cursor;
  } while (cursor);
  return out;
}

describe("Activity CSV export", () => {
  it("streams exactly what the one-shot CSV was (same rows, formulas defused), and other work runs between every two page reads", async () => {
    // Another request's work: a task that logs each time the event loop lets it run.
    const log: string[] = [];
    const store = new Proxy(core.deps.audit.store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === "list") return (...a: Parameters<typeof target.list>) => (log.push("read"), target.list(...a));
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const deps = { ...core.deps, audit: { ...core.deps.audit, store } };
    let stop = false;
    const other = (async () => {
      while (!stop) {
        log.push("other");
        await new Promise<void>((r) => setImmediate(r));
      }
    })();
    const csv = await readAll(await exportAuditCsv({ actor: SYSTEM_ACTOR, org: ORG, filter: {} }, deps));
    stop = true;
    await other;

    const all = await everyEvent();
    expect(all.length).toBe(SEEDED + 1); // + the org's initial admin key
    expect(csv).toBe(auditEventsToCsv(all));
    expect(csv).toContain(`'=HYPERLINK(""http://x/0"")`);
    expect(csv).not.toMatch(/,=HYPERLINK/);
    const reads = log.filter((x) => x === "read").length;
    expect(reads).toBe(Math.ceil((SEEDED + 1) / AUDIT_EXPORT_PAGE));
    // Never two page reads in a row: the other task ran between every two.
    expect(log.join(" ")).not.toMatch(/read read/);
  });

  it("keeps the Activity filter", async () => {
    const csv = await readAll(await exportAuditCsv({ actor: SYSTEM_ACTOR, org: ORG, filter: { action: "api_key.create" } }, core.deps));
    expect(csv.trimEnd().split("\r\n")).toHaveLength(2);
    expect(csv).toMatch(/api_key\.create/);
  });

  it("a viewer is refused before anything is read and spends no budget; an org admin gets AUDIT_EXPORTS_PER_MINUTE exports a minute, then 429 with a wait", async () => {
    const other = await makeCore();
    try {
      await other.addOrg(ORG);
      for (let i = 0; i < AUDIT_EXPORTS_PER_MINUTE + 2; i++) {
        const e = await rejectionOf(exportAuditCsv({ actor: viewerOf(ORG), org: ORG, filter: {} }, other.deps));
        expect(e).toMatchObject({ code: "forbidden" });
      }
      for (let i = 0; i < AUDIT_EXPORTS_PER_MINUTE; i++) await readAll(await exportAuditCsv({ actor: adminOf(ORG), org: ORG, filter: {} }, other.deps));
      const refused = await rejectionOf(exportAuditCsv({ actor: adminOf(ORG), org: ORG, filter: {} }, other.deps));
      expect(refused).toBeInstanceOf(AppError);
      expect(refused).toMatchObject({ code: "rate_limited", status: 429 });
      expect((refused as AppError).extra.retryAfterS).toBeGreaterThan(0);
      // The next minute the budget is back.
      other.clock.advance(60_000);
      await readAll(await exportAuditCsv({ actor: adminOf(ORG), org: ORG, filter: {} }, other.deps));
    } finally {
      await other.close();
    }
  });
});
