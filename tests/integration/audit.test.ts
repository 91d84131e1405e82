import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import Database from "better-sqlite3";
import { Pool } from "pg";
import { describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { createKey, createOrg, runCli, runCliAsync } from "../support/stack";
import * as K from "../fakes/keys";

/**
 * The audit trail end to end (docs/security.md, "Audit trail"): changes made over REST and with the
 * CLI against the built server land in GET /integrations/{org}/audit with who, what, fingerprints,
 * request id and client address; only owners and admins read it; no secret in it; `audit verify`
 * passes on the server's own data and names the first broken event once a row is edited or removed.
 */
const dataDir = () => inject("dataDir");

async function newOrg(prefix: string) {
  const org = uniqueOrg(prefix);
  const r = await runCliAsync(dataDir(), ["orgs", "create", org, "--json"]);
  if (r.status !== 0) throw new Error(`orgs create failed: ${r.stderr}`);
  const key = (JSON.parse(r.stdout) as { api_key: string }).api_key;
  return { org, key, c: api(key) };
}

/**
 * `keys create` with the CLI, without blocking this process: a synchronous CLI run freezes the
 * event loop, so the HTTP client cannot retire a keep-alive connection the server has closed
 * meanwhile, and the next request fails with "other side closed".
 */
async function cliKey(org: string, role: "admin" | "viewer" | "pipeline"): Promise<{ api_key: string; key_id: string }> {
  const r = await runCliAsync(dataDir(), ["keys", "create", org, "--role", role, "--json"]);
  if (r.status !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { api_key: string; key_id: string };
}

async function call(method: string, pathname: string, key: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${inject("baseUrl")}${pathname}`, {
    method,
    headers: { "x-api-key": key, ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null };
}

describe("GET /integrations/{org}/audit", () => {
  it("records REST changes with the key, fingerprints, request id and client address, and CLI changes with the operator", async () => {
    const { org, key, c } = await newOrg("audit-rest");
    const setup = await call("POST", `/integrations/${org}/openai/setup`, key, { "x-request-id": "audit-test-req-0001" }, { credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY } });
    expect(setup.status).toBe(201);
    const fp = setup.body.fingerprint as string;
    expect((await c.post(`/integrations/${org}/openai/validate`)).status).toBe(200);
    expect((await c.put(`/integrations/${org}/openai/metadata`, { metadata: { label: "prod" } })).status).toBe(200);
    const viewer = await cliKey(org, "viewer"); // by the CLI
    expect((await api(viewer.api_key).del(`/integrations/${org}/openai`)).status).toBe(403);
    expect((await c.del(`/integrations/${org}/openai`)).status).toBe(204);

    const r = await c.get(`/integrations/${org}/audit`);
    expect(r.status).toBe(200);
    expect(r.body.next_cursor).toBeNull();
    const events = r.body.events as Array<Record<string, any>>;
    expect(events.map((e) => [e.action, e.outcome, e.fingerprint_before, e.fingerprint_after])).toEqual([
      ["integration.delete", "ok", fp, null],
      ["integration.delete", "forbidden", null, null],
      ["api_key.create", "ok", null, null],
      ["integration.metadata", "ok", fp, fp],
      ["integration.validate", "ok", fp, fp],
      ["integration.setup", "ok", null, fp],
      ["api_key.create", "ok", null, null],
    ]);
    const adminKeyId = key.slice(4, 16);
    const setupEvent = events[5]!;
    expect(setupEvent).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      org,
      actor: { type: "api_key", id: adminKeyId },
      action: "integration.setup",
      provider: "openai",
      fingerprint_before: null,
      fingerprint_after: fp,
      outcome: "ok",
      request_id: "audit-test-req-0001",
      client_ip: "127.0.0.1",
      target: null,
    });
    expect(events[1]).toMatchObject({ actor: { type: "api_key", id: viewer.key_id } });
    expect(events[2]).toMatchObject({ actor: { type: "cli", id: expect.stringContaining("@") }, target: `${viewer.key_id} (viewer)`, client_ip: null });
    // No secret: neither the provider key nor any org API key appears.
    for (const secret of [K.FAKE_OPENAI_ADMIN_KEY, key.slice(17), viewer.api_key.slice(17)]) expect(r.text).not.toContain(secret);
  });

  it("records webhook endpoints added and removed over REST with the key and the URL's origin only, refusals too", async () => {
    const { org, key, c } = await newOrg("audit-webhooks");
    const url = "http://127.0.0.1:9/hooks/cnry-audit-path?token=cnry-audit-query"; // the stack allows loopback receivers
    const created = await call("POST", `/integrations/${org}/webhooks`, key, { "x-request-id": "audit-webhook-req-01" }, { url, events: ["integration.deleted"] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await c.post(`/integrations/${org}/webhooks`, { url: "ftp://127.0.0.1/cnry-audit-ftp", events: ["integration.deleted"] })).status).toBe(400);
    expect((await c.del(`/integrations/${org}/webhooks/wh_00000000000000ff`)).status).toBe(404);
    expect((await c.del(`/integrations/${org}/webhooks/${id}`)).status).toBe(204);

    const r = await c.get(`/integrations/${org}/audit?limit=4`);
    const events = r.body.events as Array<Record<string, any>>;
    const adminKeyId = key.slice(4, 16);
    expect(events.map((e) => [e.action, e.outcome, e.actor.id, e.target])).toEqual([
      ["webhook.delete", "ok", adminKeyId, `${id} (http://127.0.0.1:9)`],
      ["webhook.delete", "not_found", adminKeyId, "wh_00000000000000ff"],
      ["webhook.create", "invalid_request", adminKeyId, "(ftp://127.0.0.1)"],
      ["webhook.create", "ok", adminKeyId, `${id} (http://127.0.0.1:9)`],
    ]);
    expect(events[3]).toMatchObject({ request_id: "audit-webhook-req-01", client_ip: "127.0.0.1", provider: null, fingerprint_before: null, fingerprint_after: null });
    for (const secret of ["cnry-audit", "/hooks", created.body.secret, created.body.secret.slice(6, 30)]) expect(r.text).not.toContain(secret);
  });

  it("pages newest first with next_cursor, filters by provider and action, and names a bad parameter", async () => {
    const { org, c } = await newOrg("audit-page");
    for (let i = 0; i < 5; i++) await cliKey(org, "viewer");
    const all = (await c.get(`/integrations/${org}/audit?limit=500`)).body.events;
    expect(all).toHaveLength(6);
    const p1 = await c.get(`/integrations/${org}/audit?limit=4`);
    expect(p1.body.events).toEqual(all.slice(0, 4));
    const p2 = await c.get(`/integrations/${org}/audit?limit=4&cursor=${p1.body.next_cursor}`);
    expect(p2.body).toEqual({ events: all.slice(4), next_cursor: null });
    expect((await c.get(`/integrations/${org}/audit?action=api_key.create&provider=openai`)).body.events).toEqual([]);
    expect((await c.get(`/integrations/${org}/audit?action=api_key.create`)).body.events).toHaveLength(6);
    for (const [q, field] of [
      ["limit=501", "limit"],
      ["limit=-1", "limit"],
      ["cursor=%27%20OR%201%3D1", "cursor"],
      ["action=everything", "action"],
    ]) {
      const r = await c.get(`/integrations/${org}/audit?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
      expect(Object.keys(r.body.error.fields), q).toContain(field);
    }
  });

  it("is for owner and admin keys only: viewer and pipeline 403, another org's key 404, no key 401", async () => {
    const a = await newOrg("audit-authz-a");
    const b = await newOrg("audit-authz-b");
    expect((await api((await cliKey(a.org, "viewer")).api_key).get(`/integrations/${a.org}/audit`)).status).toBe(403);
    expect((await api((await cliKey(a.org, "pipeline")).api_key).get(`/integrations/${a.org}/audit`)).status).toBe(403);
    const cross = await b.c.get(`/integrations/${a.org}/audit`);
    expect(cross.status).toBe(404);
    expect(cross.body.error.code).toBe("org_not_found");
    expect((await api().get(`/integrations/${a.org}/audit`)).status).toBe(401);
  });

  it("is in the OpenAPI document", async () => {
    const r = await api().get("/openapi.json");
    const op = r.body.paths["/integrations/{org}/audit"].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(["org", "limit", "cursor", "provider", "action"]);
    expect(r.body.components.schemas.AuditPage).toBeDefined();
  });
});

describe("npm run cli -- audit verify", () => {
  it("passes on the server's own trail (every org the suites made)", () => {
    const r = runCli(dataDir(), ["audit", "verify"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/intact/);
    expect(r.stdout).not.toMatch(/BROKEN/);
  });

  it("exits 1 naming the org and the first broken event when a row is edited, and when one is removed", () => {
    // Its own DATA_DIR: tampering must not touch the server's database.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-audit-cli-"));
    try {
      createOrg(dir, "tamper-edit");
      createOrg(dir, "tamper-del");
      createOrg(dir, "untouched");
      for (const org of ["tamper-edit", "tamper-del", "untouched"]) for (let i = 0; i < 3; i++) createKey(dir, org, "viewer");
      expect(runCli(dir, ["audit", "verify"]).status).toBe(0);

      const db = new Database(path.join(dir, "auth.sqlite"));
      const idOf = (org: string, seq: number) => (db.prepare("SELECT id FROM audit_events WHERE org = ? AND seq = ?").get(org, seq) as { id: string }).id;
      const edited = idOf("tamper-edit", 2);
      const afterDeleted = idOf("tamper-del", 3);
      // What someone with the database file (but not the audit key) can do: drop the guards, rewrite.
      db.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;");
      db.prepare("UPDATE audit_events SET target = 'nothing to see' WHERE id = ?").run(edited);
      db.prepare("DELETE FROM audit_events WHERE org = 'tamper-del' AND seq = 2").run();
      db.close();

      const all = runCli(dir, ["audit", "verify"]);
      expect(all.status).toBe(1);
      expect(all.stdout).toContain(`tamper-edit: BROKEN at event ${edited} (seq 2`);
      expect(all.stdout).toMatch(/altered/);
      expect(all.stdout).toContain(`tamper-del: BROKEN at event ${afterDeleted} (seq 3`);
      expect(all.stdout).toMatch(/event 2 is missing/);
      expect(all.stdout).toContain("untouched: intact (4 events)");

      const one = runCli(dir, ["audit", "verify", "--org", "untouched", "--json"]);
      expect(one.status).toBe(0);
      expect(JSON.parse(one.stdout)).toEqual({ ok: true, orgs: [{ org: "untouched", ok: true, events: 4, first_broken: null }] });
      const json = JSON.parse(runCli(dir, ["audit", "verify", "--org", "tamper-del", "--json"]).stdout);
      expect(json.orgs[0].first_broken).toMatchObject({ event_id: afterDeleted, seq: 3 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // Appends from separate processes on one database must serialize, or the chain forks (two
  // events with one seq, or one prev_hash twice) and verify fails.
  async function concurrentCliAppends(dir: string, env: Record<string, string>) {
    const run = (args: string[]) => runCliAsync(dir, args, env);
    expect((await run(["orgs", "create", "busy", "--json"])).status).toBe(0);
    const results = await Promise.all(Array.from({ length: 6 }, () => run(["keys", "create", "busy", "--role", "viewer", "--json"])));
    for (const r of results) expect(r.status, r.stderr).toBe(0);
    const v = await run(["audit", "verify", "--org", "busy", "--json"]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual({ ok: true, orgs: [{ org: "busy", ok: true, events: 7, first_broken: null }] });
  }

  it("keeps one chain when several CLI processes append to one org at once (SQLite)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-audit-conc-"));
    try {
      await concurrentCliAppends(dir, {});
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const pgUrl = process.env.AUTH_TEST_DATABASE_URL;
  it.skipIf(!pgUrl)("keeps one chain across processes on Postgres (AUTH_DATABASE_URL), and names an edited row there too", async () => {
    const schema = `cm_audit_cli_${crypto.randomBytes(5).toString("hex")}`;
    const admin = new Pool({ connectionString: pgUrl, max: 1 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-audit-pg-"));
    const url = new URL(pgUrl!);
    url.searchParams.set("options", `-c search_path=${schema}`);
    try {
      await concurrentCliAppends(dir, { AUTH_DATABASE_URL: url.toString() });
      const { rows } = await admin.query(`SELECT id FROM ${schema}.audit_events WHERE org = 'busy' AND seq = 4`);
      await admin.query(`DROP TRIGGER audit_events_append_only ON ${schema}.audit_events`);
      await admin.query(`UPDATE ${schema}.audit_events SET actor_id = 'someone-else' WHERE id = $1`, [rows[0].id]);
      const v = await runCliAsync(dir, ["audit", "verify"], { AUTH_DATABASE_URL: url.toString() });
      expect(v.status).toBe(1);
      expect(v.stdout).toContain(`busy: BROKEN at event ${rows[0].id} (seq 4`);
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
