import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_INVALID_KEY } from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { adminOf, makeCore, rejectionOf, viewerOf, type TestCore } from "@/tests/support/core-deps";

import type { Actor } from "../auth/actor";
import { createOrgApiKey, revokeOrgApiKey } from "../auth/organizations";
import { AppError } from "../errors";
import { deleteIntegration } from "../integrations/delete-integration";
import { setupIntegration } from "../integrations/setup-integration";
import { updateIntegrationMetadata } from "../integrations/update-integration-metadata";
import { validateIntegration } from "../integrations/validate-integration";
import type { AuditStore } from "./audit-store";
import { auditEventsToCsv, csvField } from "./csv";
import type { AuditEvent } from "./events";
import { listAuditEvents } from "./list-audit-events";
import { pruneExpiredAuditEvents, recordAudit, recordAuditOrThrow } from "./record-audit";
import { verifyAuditTrail } from "./verify-audit-trail";
import { waitFor } from "@/tests/support/wait";

/**
 * The audit trail through the core use cases (the transports only pass the actor through, so
 * every transport is covered by these): one event per change or attempt, the right fields, no
 * secret ever, failures recorded only inside the actor's own org, retention keeping the chain
 * verifiable.
 */

const ORG = "acme";
const OTHER = "beta";
const CLI: Actor = { kind: "system", name: "cli" };
// Canaries: a credential value the use cases see on success and failure paths.
const CANARY = "cnry-audit-Q7z2/Xk9+Lm4=Rv8&Tb3?Hw6%Jd1";
const CANARY_FORMAT = "sk-admin-cnryAudit8Hd3Lq6Vw1Zx4Nm7Pb2Rt5";

let fake: OpenAIFake;
let core: TestCore;

beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  await core?.close();
  core = await makeCore({ env: { OPENAI_API_BASE: fake.url, ORG_RATE_LIMIT_PER_MINUTE: "20" } });
  await core.addOrg(ORG);
  await core.addOrg(OTHER);
});
afterAll(async () => {
  await core?.close();
});

const allEvents = async (org = ORG): Promise<AuditEvent[]> => (await listAuditEvents({ actor: CLI, org, query: { limit: 500 } }, core.deps)).events;
/** The org's events after its creation (whose one event is the initial admin key's api_key.create). */
const events = async (org = ORG): Promise<AuditEvent[]> => {
  const all = await allEvents(org);
  expect(all.at(-1)).toMatchObject({ action: "api_key.create", target: expect.stringMatching(/\(admin\)$/) });
  return all.slice(0, -1);
};
const withRequest = (a: Actor, requestId: string, clientIp: string): Actor => ({ ...a, requestId, clientIp });

describe("each use case writes one event", () => {
  it("setup, replace, validate, metadata, delete: actions, fingerprints, actor, request id and client address", async () => {
    const admin = withRequest(adminOf(ORG), "req-setup-0001", "203.0.113.9");
    const first = await setupIntegration({ actor: admin, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY } } }, core.deps);
    const second = await setupIntegration({ actor: admin, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: `${CANARY}-2` } } }, core.deps);
    await validateIntegration({ actor: admin, org: ORG, provider: "saas_datadog" }, core.deps);
    await updateIntegrationMetadata({ actor: admin, org: ORG, provider: "saas_datadog", input: { metadata: { label: "prod" } } }, core.deps);
    await deleteIntegration({ actor: admin, org: ORG, provider: "saas_datadog" }, core.deps);

    const fp1 = first.integration.fingerprint;
    const fp2 = second.integration.fingerprint;
    const es = await events();
    expect(es.map((e) => [e.action, e.fingerprint_before, e.fingerprint_after, e.outcome])).toEqual([
      ["integration.delete", fp2, null, "ok"],
      ["integration.metadata", fp2, fp2, "ok"],
      ["integration.validate", fp2, fp2, "skipped"],
      ["integration.replace", fp1, fp2, "ok"],
      ["integration.setup", null, fp1, "ok"],
    ]);
    for (const e of es) {
      expect(e).toMatchObject({ org: ORG, provider: "saas_datadog", actor: { type: "api_key", id: "test" }, request_id: "req-setup-0001", client_ip: "203.0.113.9", target: null });
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(e.at).toISOString()).toBe(e.at);
    }
    expect(await events(OTHER)).toEqual([]);
  });

  it("a connection test the provider rejects is recorded with the attempted credential's fingerprint; the stored one is unchanged", async () => {
    const admin = adminOf(ORG);
    const ok = await setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
    const err = await rejectionOf(setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_INVALID_KEY } } }, core.deps));
    expect(err).toBeInstanceOf(AppError);
    const [failed] = await events();
    expect(failed).toMatchObject({
      action: "integration.replace",
      outcome: (err as AppError).code,
      fingerprint_before: ok.integration.fingerprint,
      fingerprint_after: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    expect(failed!.fingerprint_after).not.toBe(ok.integration.fingerprint);
  });

  it("a viewer's refused change is recorded as forbidden; another org's key and unknown providers are not recorded anywhere", async () => {
    await rejectionOf(deleteIntegration({ actor: viewerOf(ORG), org: ORG, provider: "openai" }, core.deps));
    await rejectionOf(deleteIntegration({ actor: adminOf(OTHER), org: ORG, provider: "openai" }, core.deps));
    await rejectionOf(deleteIntegration({ actor: adminOf(ORG), org: ORG, provider: "no-such-provider" }, core.deps));
    await rejectionOf(setupIntegration({ actor: null, org: ORG, provider: "openai", input: {} }, core.deps));
    expect((await events()).map((e) => [e.action, e.outcome, e.actor.id])).toEqual([["integration.delete", "forbidden", "test-viewer"]]);
    expect(await events(OTHER)).toEqual([]);
  });

  it("throttled calls are not recorded (a flood of 429s must not flood the trail)", async () => {
    const admin = adminOf(ORG);
    const input = { credential: { display_name: "Datadog", api_key: CANARY } };
    let limited = 0;
    for (let i = 0; i < 25; i++) {
      try {
        await setupIntegration({ actor: admin, org: ORG, provider: "saas_datadog", input }, core.deps);
      } catch (e) {
        if (e instanceof AppError && e.code === "rate_limited") limited++;
        else throw e;
      }
    }
    expect(limited).toBe(5);
    expect(await events()).toHaveLength(20);
  });

  it("API keys: create (also the initial key of orgs create) and revoke, by the CLI; the key itself never", async () => {
    const created = await createOrgApiKey({ actor: CLI, org: ORG, role: "viewer", label: "ci" }, core.deps);
    await revokeOrgApiKey({ actor: CLI, org: ORG, keyId: created.key.id }, core.deps);
    await rejectionOf(revokeOrgApiKey({ actor: CLI, org: ORG, keyId: created.key.id }, core.deps));
    const es = await events();
    expect(es.map((e) => [e.action, e.outcome, e.target])).toEqual([
      ["api_key.revoke", "not_found", created.key.id],
      ["api_key.revoke", "ok", created.key.id],
      ["api_key.create", "ok", `${created.key.id} (viewer)`],
    ]);
    expect((await allEvents()).at(-1)).toMatchObject({ action: "api_key.create", target: expect.stringMatching(/^[0-9a-f]{12} \(admin\)$/) }); // orgs create's initial key
    expect(es[0]!.actor).toEqual({ type: "cli", id: expect.stringContaining("@") });
    expect(JSON.stringify(es)).not.toContain(created.apiKey.slice(17));
  });
});

describe("no secret in any event (canary)", () => {
  it("credential values on success and failure paths appear neither in the events nor in the database file", async () => {
    const admin = adminOf(ORG);
    await setupIntegration({ actor: admin, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY } } }, core.deps);
    await rejectionOf(setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: CANARY_FORMAT.replace("sk-admin-", "bad!") } } }, core.deps));
    await rejectionOf(setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: CANARY_FORMAT, [CANARY]: "x" } } }, core.deps));
    await rejectionOf(setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: CANARY_FORMAT } } }, core.deps));
    const key = await createOrgApiKey({ actor: admin, org: ORG, role: "admin" }, core.deps);
    const es = await events();
    expect(es.length).toBeGreaterThanOrEqual(4);
    const text = JSON.stringify(es) + auditEventsToCsv(es);
    const raw = fs.readFileSync(path.join(core.dataDir, "auth.sqlite")).toString("latin1") + readIfExists(path.join(core.dataDir, "auth.sqlite-wal"));
    for (const secret of [CANARY, CANARY_FORMAT, CANARY_FORMAT.slice(9), key.apiKey.slice(17), FAKE_OPENAI_ADMIN_KEY]) {
      for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64").slice(0, 20)]) {
        expect(text.includes(form), `event text holds ${secret.slice(0, 10)}…`).toBe(false);
        expect(raw.includes(form), `auth.sqlite holds ${secret.slice(0, 10)}…`).toBe(false);
      }
    }
  });
});

function readIfExists(f: string): string {
  try {
    return fs.readFileSync(f).toString("latin1");
  } catch {
    return "";
  }
}

describe("listing", () => {
  it("pages newest first with an opaque cursor, filters by provider and action, and names a bad parameter", async () => {
    for (let i = 0; i < 7; i++) await createOrgApiKey({ actor: CLI, org: ORG, role: "viewer" }, core.deps);
    await setupIntegration({ actor: adminOf(ORG), org: ORG, provider: "saas_datadog", input: { credential: { display_name: "D", api_key: CANARY } } }, core.deps);
    const all = await allEvents();
    expect(all).toHaveLength(9);
    const p1 = await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { limit: "4" } }, core.deps);
    expect(p1.events).toEqual(all.slice(0, 4));
    const p2 = await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { limit: "4", cursor: p1.next_cursor } }, core.deps);
    expect(p2.events).toEqual(all.slice(4, 8));
    const p3 = await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { limit: "4", cursor: p2.next_cursor } }, core.deps);
    expect(p3).toEqual({ events: all.slice(8), next_cursor: null });
    expect(p3.events).toHaveLength(1);
    expect((await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { provider: "saas_datadog" } }, core.deps)).events.map((e) => e.action)).toEqual(["integration.setup"]);
    expect((await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { action: "api_key.create" } }, core.deps)).events).toHaveLength(8);
    expect((await listAuditEvents({ actor: adminOf(ORG), org: ORG, query: {} }, core.deps)).events).toHaveLength(9); // default 50

    for (const [query, field] of [
      [{ limit: "501" }, "limit"],
      [{ limit: "0" }, "limit"],
      [{ limit: "ten" }, "limit"],
      [{ cursor: "bm90LWEtY3Vyc29y" }, "cursor"],
      [{ cursor: "../../x" }, "cursor"],
      [{ action: "integration.hack" }, "action"],
      [{ provider: "Robert'); DROP TABLE" }, "provider"],
      [{ since: "2020" }, "(body)"],
    ] as const) {
      const e = (await rejectionOf(listAuditEvents({ actor: adminOf(ORG), org: ORG, query }, core.deps))) as AppError;
      expect(e.code, JSON.stringify(query)).toBe("invalid_request");
      expect(Object.keys(e.extra.fields ?? {}).join(), JSON.stringify(query)).toContain(field === "(body)" ? "" : field);
    }
    expect(((await rejectionOf(listAuditEvents({ actor: adminOf(ORG), org: ORG, query: { since: "2020" } }, core.deps))) as AppError).message).toMatch(/since/);
  });

  it("is for owners and admins: viewer and pipeline keys get 403, another org's key 404", async () => {
    for (const actor of [viewerOf(ORG), { kind: "api_key", org: ORG, role: "pipeline", keyId: "p" } as Actor]) {
      expect(((await rejectionOf(listAuditEvents({ actor, org: ORG, query: {} }, core.deps))) as AppError).code).toBe("forbidden");
    }
    expect(((await rejectionOf(listAuditEvents({ actor: adminOf(OTHER), org: ORG, query: {} }, core.deps))) as AppError).code).toBe("org_not_found");
  });
});

describe("chain, retention and failures of the trail itself", () => {
  it("retention deletes events older than AUDIT_RETENTION_DAYS at append, and every chain still verifies", async () => {
    await core.close();
    core = await makeCore({ env: { AUDIT_RETENTION_DAYS: "30" } });
    await core.addOrg(ORG); // one event (its initial key), at day 0
    for (let i = 0; i < 3; i++) await createOrgApiKey({ actor: CLI, org: ORG, role: "viewer" }, core.deps);
    core.clock.advance(31 * 86_400_000);
    await createOrgApiKey({ actor: CLI, org: ORG, role: "admin" }, core.deps); // triggers the prune (hourly at most)
    // The prune runs after the append returns: wait for it.
    const left = await waitFor(async () => {
      const events = await allEvents();
      return events.length === 1 && events;
    }, "the prune to leave one event", 5_000).catch(allEvents);
    expect(left.map((e) => e.target)).toEqual([expect.stringMatching(/\(admin\)$/)]);
    expect(await verifyAuditTrail({ actor: CLI }, core.deps)).toEqual({ ok: true, orgs: [{ org: ORG, ok: true, events: 1, first_broken: null }] });
    expect(await pruneExpiredAuditEvents(core.deps)).toBe(0);
  });

  it("a trail that cannot be written: recordAudit logs and returns null (the change already happened), recordAuditOrThrow refuses", async () => {
    const lines: string[] = [];
    const broken: AuditStore = { ...core.deps.audit.store, append: async () => Promise.reject(new Error("disk full")) };
    const deps = { ...core.deps, log: pino({ level: "info" }, { write: (l: string) => void lines.push(l) }), audit: { ...core.deps.audit, store: broken } };
    const input = { actor: adminOf(ORG), org: ORG, action: "integration.access" as const, provider: "openai", outcome: "ok" };
    expect(await recordAudit(deps, input)).toBeNull();
    expect(lines.join("")).toMatch(/audit event could not be written/);
    expect(((await rejectionOf(recordAuditOrThrow(deps, input))) as AppError).code).toBe("storage_unavailable");
    // The use cases go on (their change is made): a setup still succeeds with a broken trail.
    const r = await setupIntegration({ actor: adminOf(ORG), org: ORG, provider: "saas_datadog", input: { credential: { display_name: "D", api_key: CANARY } } }, deps);
    expect(r.created).toBe(true);
  });

  it("scheduler and CLI actors", async () => {
    await recordAudit(core.deps, { actor: { kind: "system", name: "scheduler" }, org: ORG, action: "integration.validate", provider: "openai", outcome: "ok" });
    expect((await allEvents())[0]!.actor).toEqual({ type: "scheduler", id: "scheduler" });
  });
});

describe("CSV", () => {
  it("quotes per RFC 4180 and defuses spreadsheet formulas", () => {
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField("=HYPERLINK(\"http://x\")")).toBe("\"'=HYPERLINK(\"\"http://x\"\")\"");
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("-2")).toBe("'-2");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("line\nbreak")).toBe('"line\nbreak"');
    expect(csvField(null)).toBe("");
    const csv = auditEventsToCsv([
      {
        id: "e1",
        at: "2030-01-01T00:00:00.000Z",
        org: ORG,
        actor: { type: "user", id: "u1", email: "=cmd@example.com" },
        action: "member.invite",
        provider: null,
        fingerprint_before: null,
        fingerprint_after: null,
        outcome: "ok",
        request_id: "r1",
        client_ip: "198.51.100.1",
        target: "x@example.com (viewer)",
      },
    ]);
    expect(csv.split("\r\n")).toEqual([
      "id,at,org,actor_type,actor_id,actor_email,action,provider,fingerprint_before,fingerprint_after,outcome,request_id,client_ip,target",
      "e1,2030-01-01T00:00:00.000Z,acme,user,u1,'=cmd@example.com,member.invite,,,,ok,r1,198.51.100.1,x@example.com (viewer)",
      "",
    ]);
  });
});
