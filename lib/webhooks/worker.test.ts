import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { createCipher } from "../kms";
import type { Cipher } from "../kms/cipher";
import { makeTestCa } from "../../tests/fakes/tls";
import { RETRY_WINDOW_MS } from "../queue/backoff";
import { sealWebhookSecret } from "./secret-box";
import { newWebhookSecret } from "./signing";
import type { Resolver } from "./ssrf";
import { WebhookWorker, type WorkerDeps } from "./worker";
import { SqliteWebhookStore } from "./webhook-store-sqlite";

/**
 * The delivery worker against real receivers on loopback (private targets allowed, as in tests)
 * and, where the SSRF check is on, against receivers it must never reach.
 */
interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

function receiver(answers: number[], server: "http" | "https" = "http") {
  const got: Received[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = answers.length > 1 ? answers.shift()! : (answers[0] ?? 200);
      res.end("ok");
    });
  };
  const ca = server === "https" ? makeTestCa() : null;
  const srv = ca ? https.createServer({ key: ca.keyPem, cert: ca.certPem }, handler) : http.createServer(handler);
  return {
    got,
    ca,
    async listen(): Promise<number> {
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
      return (srv.address() as AddressInfo).port;
    },
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

let dir: string;
let store: SqliteWebhookStore;
let cipher: Cipher;
let clock: number;
const T0 = Date.now();
const ORG = "acme";

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-webhook-worker-"));
  store = new SqliteWebhookStore(path.join(dir, "auth.sqlite"));
  cipher = createCipher({ backend: "local", dataDir: dir, createKeyRingIfMissing: true });
  clock = T0;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function worker(extra: Partial<WorkerDeps> = {}) {
  return new WebhookWorker({ webhooks: store, cipher, log: pino({ level: "silent" }), now: () => clock, allowPrivate: true, random: () => 0.5, timeoutMs: 3000, ...extra });
}

async function addEndpoint(url: string): Promise<{ id: string; secret: string }> {
  const id = `wh_${Math.random().toString(16).slice(2, 10).padEnd(16, "0")}`;
  const secret = newWebhookSecret();
  const sealed = await sealWebhookSecret(cipher, ORG, id, secret);
  await store.createEndpoint({ id, org: ORG, url, events: ["integration.created"], secretCiphertext: sealed.ciphertext, secretKeyRef: sealed.keyRef, secretKeyVersion: sealed.keyVersion, createdAt: new Date(clock).toISOString() });
  return { id, secret };
}

async function queue(endpointId: string, msgId = "msg_test1") {
  const body = JSON.stringify({ type: "integration.created", timestamp: new Date(clock).toISOString(), data: { org: ORG, provider: "openai", fingerprint: "3f9a0c1e" } });
  const at = new Date(clock).toISOString();
  await store.enqueue([{ id: msgId, endpointId, org: ORG, event: "integration.created", provider: "openai", payload: body, createdAt: at, nextAttemptAt: at }]);
  return body;
}

const row = async (endpointId: string) => (await store.listDeliveries(ORG, endpointId, 10))[0]!;

describe("webhook delivery worker", () => {
  it("delivers a signed body the reference verifier accepts, and logs the delivery", async () => {
    const r = receiver([204]);
    const port = await r.listen();
    try {
      const ep = await addEndpoint(`http://127.0.0.1:${port}/hook`);
      const body = await queue(ep.id);
      await worker().runOnce();
      expect(r.got).toHaveLength(1);
      expect(r.got[0]!.body).toBe(body);
      expect(r.got[0]!.headers["content-type"]).toBe("application/json");
      expect(new Webhook(ep.secret).verify(r.got[0]!.body, r.got[0]!.headers as Record<string, string>)).toEqual(JSON.parse(body));
      expect(await row(ep.id)).toMatchObject({ status: "delivered", attempts: 1, lastResponseCode: 204, lastError: null, nextAttemptAt: null });
    } finally {
      await r.close();
    }
  });

  it("retries a failed delivery with backoff, with the same webhook-id, until it is accepted", async () => {
    const r = receiver([500, 503, 200]);
    const port = await r.listen();
    try {
      const ep = await addEndpoint(`http://127.0.0.1:${port}/hook`);
      await queue(ep.id, "msg_retry");
      const w = worker();
      await w.runOnce();
      let d = await row(ep.id);
      expect(d).toMatchObject({ status: "pending", attempts: 1, lastResponseCode: 500, lastError: "the receiver answered HTTP 500" });
      expect(Date.parse(d.nextAttemptAt!) - clock).toBe(30_000);
      await w.runOnce(); // not due yet: nothing sent
      expect(r.got).toHaveLength(1);
      clock += 30_000;
      await w.runOnce();
      d = await row(ep.id);
      expect(d).toMatchObject({ status: "pending", attempts: 2, lastResponseCode: 503 });
      expect(Date.parse(d.nextAttemptAt!) - clock).toBe(60_000);
      clock += 60_000;
      await w.runOnce();
      expect(await row(ep.id)).toMatchObject({ status: "delivered", attempts: 3, lastResponseCode: 200 });
      expect(r.got.map((g) => g.headers["webhook-id"])).toEqual(["msg_retry", "msg_retry", "msg_retry"]);
      for (const g of r.got) expect(() => new Webhook(ep.secret).verify(g.body, g.headers as Record<string, string>)).not.toThrow();
    } finally {
      await r.close();
    }
  });

  it("gives up 24 hours after the event, the last attempt at the 24-hour mark", async () => {
    const r = receiver([503]);
    const port = await r.listen();
    try {
      const ep = await addEndpoint(`http://127.0.0.1:${port}/hook`);
      await queue(ep.id);
      const w = worker();
      for (let i = 0; i < 30; i++) {
        await w.runOnce();
        const d = await row(ep.id);
        if (d.status !== "pending") break;
        clock = Date.parse(d.nextAttemptAt!);
      }
      const d = await row(ep.id);
      expect(d).toMatchObject({ status: "failed", attempts: 14, lastResponseCode: 503, nextAttemptAt: null });
      expect(Date.parse(d.lastAttemptAt!)).toBe(T0 + RETRY_WINDOW_MS);
      expect(r.got).toHaveLength(14);
    } finally {
      await r.close();
    }
  });

  it("checks the target again at delivery: a host that now resolves to a private address is refused and never contacted", async () => {
    const r = receiver([200]);
    const port = await r.listen();
    try {
      let answer = "93.184.216.34";
      const resolve: Resolver = async () => [{ address: answer, family: 4 }];
      const ep = await addEndpoint(`https://hooks.example.com:${port}/hook`);
      await queue(ep.id);
      answer = "10.0.0.5"; // DNS rebinding: public when created, private when delivered
      await worker({ allowPrivate: false, resolve }).runOnce();
      expect(r.got).toHaveLength(0);
      expect(await row(ep.id)).toMatchObject({
        status: "pending",
        attempts: 1,
        lastResponseCode: null,
        lastError: "refused: the URL resolves to a private address (10.0.0.5); webhooks go to public hosts only",
      });
      answer = "127.0.0.1";
      clock += 30_000;
      await worker({ allowPrivate: false, resolve }).runOnce();
      expect((await row(ep.id)).lastError).toMatch(/loopback address \(127\.0\.0\.1\)/);
      expect(r.got).toHaveLength(0);
    } finally {
      await r.close();
    }
  });

  it("connects to the checked address, not to a second DNS answer (.invalid never resolves)", async () => {
    const r = receiver([200]);
    const port = await r.listen();
    try {
      let lookups = 0;
      const resolve: Resolver = async (host) => {
        lookups++;
        expect(host).toBe("hooks.invalid");
        return [{ address: "127.0.0.1", family: 4 }];
      };
      const ep = await addEndpoint(`http://hooks.invalid:${port}/hook`);
      await queue(ep.id);
      await worker({ resolve }).runOnce();
      expect(await row(ep.id)).toMatchObject({ status: "delivered", lastResponseCode: 200 });
      expect(lookups).toBe(1);
      expect(r.got[0]!.headers.host).toBe(`hooks.invalid:${port}`);
    } finally {
      await r.close();
    }
  });

  it("over https, verifies the certificate against the URL's host name while connecting to the checked address", async () => {
    const r = receiver([200], "https");
    const port = await r.listen();
    try {
      const resolve: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];
      const good = await addEndpoint(`https://localhost:${port}/hook`);
      await queue(good.id, "msg_tls_ok");
      await worker({ resolve, ca: r.ca!.caPem }).runOnce();
      expect(await row(good.id)).toMatchObject({ status: "delivered", lastResponseCode: 200 });
      // The same server, reached under a name its certificate does not carry: refused by TLS.
      const bad = await addEndpoint(`https://hooks.invalid:${port}/hook`);
      await queue(bad.id, "msg_tls_bad");
      await worker({ resolve, ca: r.ca!.caPem }).runOnce();
      expect(await row(bad.id)).toMatchObject({ status: "pending", lastResponseCode: null, lastError: "could not connect (ERR_TLS_CERT_ALTNAME_INVALID)" });
      expect(r.got).toHaveLength(1);
    } finally {
      await r.close();
    }
  });

  it("does not follow redirects (a redirect could point anywhere)", async () => {
    const r = receiver([302]);
    const port = await r.listen();
    try {
      const ep = await addEndpoint(`http://127.0.0.1:${port}/hook`);
      await queue(ep.id);
      await worker().runOnce();
      expect(await row(ep.id)).toMatchObject({ status: "pending", lastResponseCode: 302, lastError: "the receiver answered HTTP 302" });
      expect(r.got).toHaveLength(1);
    } finally {
      await r.close();
    }
  });
});
