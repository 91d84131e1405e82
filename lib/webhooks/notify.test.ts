import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { FAKE_OPENAI_ADMIN_KEY } from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { startSmtpFake } from "@/tests/fakes/smtp";
import { adminOf, makeCore, rejectionOf, viewerOf, type TestCore } from "@/tests/support/core-deps";
import { AppError } from "../errors";
import { deleteIntegration } from "../integrations/delete-integration";
import { setupIntegration } from "../integrations/setup-integration";
import { validateIntegration } from "../integrations/validate-integration";
import { createWebhook } from "./create-webhook";
import { deleteWebhook } from "./delete-webhook";
import { listWebhookDeliveries } from "./list-webhook-deliveries";
import { listWebhooks } from "./list-webhooks";
import { MailWorker } from "../mail/mail-worker";
import { WebhookWorker } from "./worker";

/**
 * The core's events, end to end in one process: setup, validate and delete (the real use cases)
 * queue deliveries; the worker signs and delivers them to a receiver; owners and admins get mail.
 */
const ORG = "acme";
const ADMIN = adminOf(ORG);
const CANARY = `canary-${Math.random().toString(36).slice(2)}-secret`;

let fake: OpenAIFake;
let core: TestCore;
let received: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
let srv: http.Server;
let hookUrl: string;

beforeAll(async () => {
  fake = await startOpenAIFake();
  srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await fake.close();
  await new Promise((r) => srv.close(r));
});
beforeEach(async () => {
  received = [];
  core = await makeCore({
    env: { OPENAI_API_BASE: fake.url, WEBHOOK_ALLOW_PRIVATE: "1" },
    overrides: { orgAdminEmails: async (org) => (org === ORG ? ["olivia@example.com", "adam@example.com"] : []) },
  });
  await core.addOrg(ORG);
  await core.addOrg("globex");
});
afterEach(async () => {
  await core.deps.webhooks.close();
  await core.close();
});

const deliverAll = () => new WebhookWorker({ webhooks: core.deps.webhooks, cipher: core.deps.cipher, log: core.deps.log, now: () => Date.now(), allowPrivate: true }).runOnce();

/** Sends the queued notification mail (lib/mail/mail-worker.ts), as the server's worker does. */
const mailAll = (c: TestCore = core) => new MailWorker({ queue: c.deps.mailQueue, env: c.deps.env, log: c.deps.log, now: c.deps.now }).runOnce();

function readOutbox(): string[] {
  const dir = path.join(core.dataDir, "outbox");
  return (fs.existsSync(dir) ? fs.readdirSync(dir) : []).sort().map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
}

describe("integration events → webhooks and mail", () => {
  it("created, replaced, status_changed and deleted arrive signed, in order, with no secret in any body or mail", async () => {
    const hook = await createWebhook({ actor: ADMIN, org: ORG, input: { url: hookUrl, events: ["integration.created", "integration.replaced", "integration.deleted", "integration.status_changed"] } }, core.deps);
    expect(hook).toMatchObject({ id: expect.stringMatching(/^wh_[0-9a-f]{16}$/), url: hookUrl, secret: expect.stringMatching(/^whsec_/) });

    const created = await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY } } }, core.deps);
    await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: `${CANARY}-2` } } }, core.deps);
    await setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps);
    core.deps.fetch = async () =>
      new Response(JSON.stringify({ error: { message: "Incorrect API key provided: sk-admin-****abcd.", type: "invalid_request_error", param: null, code: "invalid_api_key" } }), {
        status: 401,
        headers: { "content-type": "application/json" },
      });
    await validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps);
    await validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps); // still invalid: no new event
    core.deps.fetch = core.raw.fetch;
    await validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps); // active again
    await deleteIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.deps);
    await deliverAll();

    const wh = new Webhook(hook.secret);
    const events = received.map((r) => wh.verify(r.body, r.headers as Record<string, string>) as { type: string; timestamp: string; data: Record<string, unknown> });
    const seq = events.map((e) => `${e.type}:${e.data.provider}`).sort();
    expect(seq).toEqual(
      [
        "integration.created:saas_datadog",
        "integration.replaced:saas_datadog",
        "integration.created:openai",
        "integration.status_changed:openai",
        "integration.status_changed:openai",
        "integration.deleted:saas_datadog",
      ].sort(),
    );
    const first = events.find((e) => e.type === "integration.created" && e.data.provider === "saas_datadog")!;
    expect(first.data).toMatchObject({ org: ORG, provider: "saas_datadog", fingerprint: created.integration.fingerprint, version: 1, status: created.integration.status });
    const replaced = events.find((e) => e.type === "integration.replaced")!;
    expect(replaced.data).toMatchObject({ version: 2, previous_fingerprint: created.integration.fingerprint });
    const broke = events.find((e) => e.type === "integration.status_changed" && e.data.status === "invalid")!;
    expect(broke.data).toMatchObject({ previous_status: "active", status: "invalid", outcome: "auth_failed", message: expect.stringMatching(/.{10,}/) });
    const healed = events.find((e) => e.type === "integration.status_changed" && e.data.status === "active")!;
    expect(healed.data).toMatchObject({ previous_status: "invalid", message: "The connection test passed." });
    expect(events.find((e) => e.type === "integration.deleted")!.data).toMatchObject({ provider: "saas_datadog", version: 2, deleted_at: expect.any(String) });

    for (const r of received) {
      expect(r.body).not.toContain(CANARY);
      expect(r.body).not.toContain(FAKE_OPENAI_ADMIN_KEY);
      expect(r.body).not.toContain(hook.secret.slice(6));
    }
    const log = await listWebhookDeliveries({ actor: ADMIN, org: ORG, id: hook.id }, core.deps);
    expect(log.deliveries).toHaveLength(6);
    expect(log.deliveries.every((d) => d.status === "delivered" && d.attempts === 1 && d.last_response_code === 200)).toBe(true);

    // Owners and admins were mailed (queued, then sent to DATA_DIR/outbox without SMTP_URL): two addresses × six events.
    expect(readOutbox()).toEqual([]);
    await mailAll();
    const mails = readOutbox();
    expect(mails).toHaveLength(12);
    expect(mails.filter((m) => /^To: olivia@example\.com/m.test(m))).toHaveLength(6);
    expect(mails.some((m) => /Subject: \[Credential manager\] openai in acme is now invalid/.test(m))).toBe(true);
    for (const m of mails) {
      expect(m).not.toContain(CANARY);
      expect(m).not.toContain(FAKE_OPENAI_ADMIN_KEY);
    }
  });

  it("sends an endpoint only the events it subscribed to, and only its own org's", async () => {
    const onlyDeletes = await createWebhook({ actor: ADMIN, org: ORG, input: { url: hookUrl, events: ["integration.deleted"] } }, core.deps);
    await createWebhook({ actor: adminOf("globex"), org: "globex", input: { url: `${hookUrl}?globex`, events: ["integration.created"] } }, core.deps);
    await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY } } }, core.deps);
    await deleteIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.deps);
    await deliverAll();
    expect(received.map((r) => JSON.parse(r.body).type)).toEqual(["integration.deleted"]);
    expect(() => new Webhook(onlyDeletes.secret).verify(received[0]!.body, received[0]!.headers as Record<string, string>)).not.toThrow();
  });

  it("never holds up the change: a receiver that does not answer, or a queue that does not answer, leaves setup unaffected", async () => {
    const silent = http.createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`;
      const hook = await createWebhook({ actor: ADMIN, org: ORG, input: { url, events: ["integration.created"] } }, core.deps);
      // Setup queues the delivery and returns; nothing waits for the receiver.
      const r = await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog" } } }, core.deps);
      expect(r.created).toBe(true);
      const [queued] = (await listWebhookDeliveries({ actor: ADMIN, org: ORG, id: hook.id }, core.deps)).deliveries;
      expect(queued).toMatchObject({ status: "pending", attempts: 0 });
      // The worker's attempt times out and is scheduled again.
      await new WebhookWorker({ webhooks: core.deps.webhooks, cipher: core.deps.cipher, log: core.deps.log, now: core.deps.now, allowPrivate: true, timeoutMs: 200 }).runOnce();
      const [after] = (await listWebhookDeliveries({ actor: ADMIN, org: ORG, id: hook.id }, core.deps)).deliveries;
      expect(after).toMatchObject({ status: "pending", attempts: 1, last_response_code: null, last_error: "no answer within 200 ms" });

      // A queue that never answers: setup still completes (the wait for the insert is bounded).
      core.deps.webhooks = { ...core.deps.webhooks, listEndpoints: () => new Promise(() => {}) };
      const r2 = await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_other", input: { credential: { display_name: "Other" } } }, core.deps);
      expect(r2.created).toBe(true);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it("a failing webhook store never fails the change that caused the event", async () => {
    await createWebhook({ actor: ADMIN, org: ORG, input: { url: hookUrl, events: ["integration.created"] } }, core.deps);
    core.deps.webhooks = { ...core.deps.webhooks, listEndpoints: async () => Promise.reject(new Error("database is locked")) };
    const r = await setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY } } }, core.deps);
    expect(r.created).toBe(true);
  });

  it("only owners and admins manage webhooks; other orgs' endpoints are invisible; bad input names the field", async () => {
    const hook = await createWebhook({ actor: ADMIN, org: ORG, input: { url: hookUrl, events: ["integration.created"] } }, core.deps);
    for (const call of [
      () => listWebhooks({ actor: viewerOf(ORG), org: ORG }, core.deps),
      () => createWebhook({ actor: viewerOf(ORG), org: ORG, input: { url: hookUrl, events: ["integration.created"] } }, core.deps),
      () => deleteWebhook({ actor: viewerOf(ORG), org: ORG, id: hook.id }, core.deps),
    ]) {
      expect(((await rejectionOf(call())) as AppError).code).toBe("forbidden");
    }
    expect(((await rejectionOf(listWebhooks({ actor: ADMIN, org: "globex" }, core.deps))) as AppError).code).toBe("org_not_found");
    expect(((await rejectionOf(deleteWebhook({ actor: adminOf("globex"), org: "globex", id: hook.id }, core.deps))) as AppError).code).toBe("not_found");
    expect(((await rejectionOf(listWebhookDeliveries({ actor: adminOf("globex"), org: "globex", id: hook.id }, core.deps))) as AppError).code).toBe("not_found");
    const bad = (await rejectionOf(createWebhook({ actor: ADMIN, org: ORG, input: { url: "", events: ["integration.exploded"], extra: 1 } }, core.deps))) as AppError;
    expect(bad.code).toBe("invalid_request");
    expect(bad.extra.fields).toMatchObject({ url: "is required", "events.0": expect.stringMatching(/must be one of/) });
    expect((await listWebhooks({ actor: ADMIN, org: ORG }, core.deps)).webhooks).toEqual([{ id: hook.id, url: hookUrl, events: ["integration.created"], created_at: expect.any(String) }]);
    await deleteWebhook({ actor: ADMIN, org: ORG, id: hook.id }, core.deps);
    expect((await listWebhooks({ actor: ADMIN, org: ORG }, core.deps)).webhooks).toEqual([]);
  });

  it("without WEBHOOK_ALLOW_PRIVATE, refuses http and private targets when the endpoint is created", async () => {
    const strict = await makeCore({ env: { OPENAI_API_BASE: fake.url } });
    try {
      const admin = await strict.addOrg(ORG);
      for (const [url, why] of [
        [hookUrl, /https/],
        ["https://127.0.0.1/hook", /loopback/],
        ["https://169.254.169.254/latest/meta-data/", /metadata/],
        ["https://[::ffff:10.0.0.1]/", /private/],
        ["https://metadata.google.internal/", /metadata/],
      ] as const) {
        const e = (await rejectionOf(createWebhook({ actor: admin, org: ORG, input: { url, events: ["integration.created"] } }, strict.deps))) as AppError;
        expect(e.code, url).toBe("invalid_request");
        expect(e.extra.fields?.url, url).toMatch(why);
      }
      expect((await listWebhooks({ actor: admin, org: ORG }, strict.deps)).webhooks).toEqual([]);
    } finally {
      await strict.deps.webhooks.close();
      await strict.close();
    }
  });

  it("with SMTP_URL, owners and admins get the status change by SMTP, with the test's message and no secret", async () => {
    const smtp = await startSmtpFake();
    const messages = smtp.messages;
    const viaSmtp = await makeCore({
      env: { OPENAI_API_BASE: fake.url, SMTP_URL: smtp.url, MAIL_FROM: "cm@example.com" },
      overrides: { orgAdminEmails: async () => ["olivia@example.com", "adam@example.com"] },
    });
    try {
      const admin = await viaSmtp.addOrg(ORG);
      await setupIntegration({ actor: admin, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, viaSmtp.deps);
      viaSmtp.deps.fetch = async () =>
        new Response(JSON.stringify({ error: { message: "Incorrect API key provided: sk-admin-****abcd.", type: "invalid_request_error", param: null, code: "invalid_api_key" } }), {
          status: 401,
          headers: { "content-type": "application/json" },
        });
      await validateIntegration({ actor: admin, org: ORG, provider: "openai" }, viaSmtp.deps);
      await mailAll(viaSmtp);
      expect(messages).toHaveLength(4); // created + status_changed, to each of the two
      const changed = messages.filter((m) => /Subject: \[Credential manager\] openai in acme is now invalid/.test(m.raw));
      expect(changed.flatMap((m) => m.to).sort()).toEqual(["adam@example.com", "olivia@example.com"]);
      expect(changed[0]!.raw).toMatch(/changed from active to invalid/);
      expect(changed[0]!.raw).toMatch(/Connection test \(auth_failed\): /);
      for (const m of messages) expect(m.raw).not.toContain(FAKE_OPENAI_ADMIN_KEY);
      expect(fs.existsSync(path.join(viaSmtp.dataDir, "outbox"))).toBe(false);
    } finally {
      await viaSmtp.deps.webhooks.close();
      await viaSmtp.close();
      await smtp.close();
    }
  });

  it("keeps the signing secret encrypted at rest", async () => {
    const hook = await createWebhook({ actor: ADMIN, org: ORG, input: { url: hookUrl, events: ["integration.created"] } }, core.deps);
    await core.deps.webhooks.close();
    const raw = fs.readFileSync(path.join(core.dataDir, "auth.sqlite"));
    const wal = fs.existsSync(path.join(core.dataDir, "auth.sqlite-wal")) ? fs.readFileSync(path.join(core.dataDir, "auth.sqlite-wal")) : Buffer.alloc(0);
    for (const blob of [raw, wal]) {
      expect(blob.includes(Buffer.from(hook.secret))).toBe(false);
      expect(blob.includes(Buffer.from(hook.secret.slice(6), "base64"))).toBe(false);
    }
  });
});
