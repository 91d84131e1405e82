import crypto from "node:crypto";
import dgram from "node:dgram";
import dns from "node:dns";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkWebhookTarget, dnsResolver, TargetRefused } from "./ssrf";

/**
 * The attack: a tenant points webhooks at names whose name server never answers. With
 * dns.lookup each check held a libuv thread-pool thread for glibc's whole timeout (10 s) and
 * queued every other lookup in the process behind it (measured: another lookup of `localhost`
 * waited 19.9 s behind four). Here the tenant's names go to a local UDP server that receives the
 * queries and never answers until the test releases it; while they hang, thread-pool work
 * (PBKDF2, file reads), the system's getaddrinfo queue and another tenant's webhook check must all
 * finish. Asserted by order (none of the hostile checks has settled yet), not by time.
 */

interface DnsServer {
  port: number;
  /** Questions received so far (qname). */
  received: string[];
  /** Answers every held query with NXDOMAIN, and every later one at once. */
  release(): void;
  close(): Promise<void>;
}

/** End offset of the question section of a DNS message (RFC 1035 section 4.1.2). */
function questionEnd(msg: Buffer): number {
  let o = 12;
  while (msg[o]! !== 0) o += msg[o]! + 1;
  return o + 5; // the root label, QTYPE, QCLASS
}

function qname(msg: Buffer): string {
  const labels: string[] = [];
  for (let o = 12; msg[o]! !== 0; o += msg[o]! + 1) labels.push(msg.subarray(o + 1, o + 1 + msg[o]!).toString("latin1"));
  return labels.join(".");
}

/** A response to `query`: its id and question, the given RCODE and A answers (RFC 1035 section 4.1). */
function response(query: Buffer, rcode: number, a: string[] = []): Buffer {
  const q = query.subarray(12, questionEnd(query));
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(a.length, 6);
  const answers = a.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question's
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(4, 10);
    ip.split(".").forEach((x, i) => rr.writeUInt8(Number(x), 12 + i));
    return rr;
  });
  return Buffer.concat([header, q, ...answers]);
}

async function startDns(answer: ((query: Buffer) => Buffer) | "never"): Promise<DnsServer> {
  const sock = dgram.createSocket("udp4");
  const received: string[] = [];
  const held: Array<{ msg: Buffer; port: number; address: string }> = [];
  let released = answer !== "never";
  sock.on("message", (msg, from) => {
    received.push(qname(msg));
    if (!released) held.push({ msg, port: from.port, address: from.address });
    else sock.send(answer === "never" ? response(msg, 3) : answer(msg), from.port, from.address);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  return {
    port: sock.address().port,
    received,
    release() {
      released = true;
      for (const h of held.splice(0)) sock.send(response(h.msg, 3), h.port, h.address);
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

let hole: DnsServer;
let good: DnsServer;

beforeAll(async () => {
  hole = await startDns("never");
  // Another tenant's name server: an A record for the A query, no data (NOERROR, no answer) for AAAA.
  good = await startDns((q) => (q.readUInt16BE(questionEnd(q) - 4) === 1 ? response(q, 0, ["93.184.216.34"]) : response(q, 0)));
});
afterAll(async () => {
  await hole?.close();
  await good?.close();
});

describe("a tenant's hanging DNS does not hold the thread pool or other lookups", () => {
  it("16 webhook checks against a name server that never answers; meanwhile PBKDF2, file reads, getaddrinfo and another tenant's check all finish", async () => {
    const N = 16;
    // Far longer than the test: only the release below ends these queries.
    const hostile = dnsResolver({ servers: [`127.0.0.1:${hole.port}`], timeoutMs: 600_000, queryTimeoutMs: 600_000, tries: 1 });
    let settled = 0;
    const attacks = Array.from({ length: N }, (_, i) =>
      checkWebhookTarget(`https://h${i}.never-answers.example/hook`, { allowPrivate: false, resolve: hostile }).finally(() => settled++),
    );
    // Every hostile query (A and AAAA) has reached the server that holds it.
    while (hole.received.length < 2 * N) await new Promise<void>((r) => setImmediate(r));

    // More PBKDF2 jobs than the pool has threads, so every thread must be free to take one.
    const pbkdf2 = Array.from({ length: 8 }, () => new Promise<Buffer>((res, rej) => crypto.pbkdf2("pw", "salt", 1000, 32, "sha256", (e, k) => (e ? rej(e) : res(k)))));
    const reads = Array.from({ length: 4 }, () => fs.promises.readFile(__filename, "utf8"));
    const system = dns.promises.lookup("localhost"); // the getaddrinfo queue every outbound connection by name uses
    const otherTenant = checkWebhookTarget("https://hooks.good-tenant.example/hook", { allowPrivate: false, resolve: dnsResolver({ servers: [`127.0.0.1:${good.port}`] }) });

    expect((await Promise.all(pbkdf2)).every((k) => k.length === 32)).toBe(true);
    expect((await Promise.all(reads)).every((t) => t.includes("never-answers"))).toBe(true);
    expect((await system).address).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(await otherTenant).toMatchObject({ hostname: "hooks.good-tenant.example", address: "93.184.216.34", family: 4 });
    // All of that finished while every hostile check was still waiting for its answer.
    expect(settled).toBe(0);

    hole.release();
    const outcomes = await Promise.allSettled(attacks);
    for (const o of outcomes) {
      expect(o.status).toBe("rejected");
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(TargetRefused);
      expect(String((o as PromiseRejectedResult).reason.message)).toMatch(/does not resolve/);
    }
  });

  it("a check gives up at its deadline even when the name server never answers (the channel is cancelled)", async () => {
    const hang = await startDns("never");
    try {
      const r = dnsResolver({ servers: [`127.0.0.1:${hang.port}`], timeoutMs: 200, queryTimeoutMs: 600_000, tries: 1 });
      const e = await checkWebhookTarget("https://slow.never-answers.example/", { allowPrivate: false, resolve: r }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TargetRefused);
      expect(hang.received).toContain("slow.never-answers.example");
    } finally {
      await hang.close();
    }
  });

  it("localhost is answered without DNS when private targets are allowed, and refused by name otherwise", async () => {
    const never = dnsResolver({ servers: [`127.0.0.1:${hole.port}`] });
    expect(await checkWebhookTarget("http://localhost:9999/hook", { allowPrivate: true, resolve: never })).toMatchObject({ address: "127.0.0.1", family: 4 });
    await expect(checkWebhookTarget("https://localhost/", { allowPrivate: false, resolve: never })).rejects.toThrow(/local or cloud metadata name/);
  });
});
