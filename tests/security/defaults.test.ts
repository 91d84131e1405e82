import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { describe, expect, it, inject } from "vitest";
import { baseUrl, createApiKey, createOrganization, signUp } from "./support";

/** "Defaults" (docs/security.md): CSP with nonces, HSTS behind https, /readyz not a free KMS/store call. */

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]));
}

describe("Content-Security-Policy", () => {
  it("every page has a strict CSP with a fresh nonce, and every script Next renders carries it", async () => {
    const owner = await signUp();
    const seen = new Set<string>();
    for (const p of ["/", "/sign-in", "/sign-up", "/orgs/new", "/no-such-page"]) {
      for (const cookie of [undefined, owner.cookie]) {
        const res = await fetch(`${baseUrl()}${p}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });
        if (res.status >= 300 && res.status < 400) continue;
        const csp = res.headers.get("content-security-policy");
        expect(csp, p).toBeTruthy();
        const d = directives(csp!);
        const scriptSrc = d.get("script-src")!;
        expect(scriptSrc, p).toContain("'strict-dynamic'");
        expect(scriptSrc.join(" "), p).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
        expect(d.get("object-src")).toEqual(["'none'"]);
        expect(d.get("frame-ancestors")).toEqual(["'none'"]);
        expect(d.get("base-uri")).toEqual(["'none'"]);
        const nonce = /'nonce-([^']+)'/.exec(scriptSrc.join(" "))?.[1];
        expect(nonce, p).toBeTruthy();
        expect(seen.has(nonce!), "a nonce is never reused").toBe(false);
        seen.add(nonce!);
        const html = await res.text();
        const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
        expect(scripts.length, p).toBeGreaterThan(0);
        for (const tag of scripts) expect(tag, `${p}: ${tag}`).toContain(`nonce="${nonce}"`);
      }
    }
  });

  it("JSON routes forbid everything", async () => {
    const res = await fetch(`${baseUrl()}/providers`);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
  });

  // The API's paths are outside proxy.ts (docs/decisions/014-api-routes-outside-the-proxy.md): the
  // production server gives them its headers before Next, so Next's own answers carry them too.
  it("every answer on the API's paths carries them, and HSTS over https: the routes', Next's own 404 and 405, and the refusals (400, 413)", async () => {
    const owner = await signUp();
    const org = await createOrganization(owner);
    const key = await createApiKey(owner, org);
    const chunked = () => {
      const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ >= 8) controller.close();
          else controller.enqueue(chunk);
        },
      });
    };
    const cases: Array<[string, number, () => Promise<Response>]> = [];
    for (const https of [false, true]) {
      const h = (extra: Record<string, string> = {}) => ({ ...(https ? { "x-forwarded-proto": "https" } : {}), ...extra });
      cases.push(
        [`GET /providers (https ${https})`, 200, () => fetch(`${baseUrl()}/providers`, { headers: h() })],
        [`GET /integrations/{org} with a key`, 200, () => fetch(`${baseUrl()}/integrations/${org}`, { headers: h({ "x-api-key": key }) })],
        [`GET /integrations/{org} without a key`, 401, () => fetch(`${baseUrl()}/integrations/${org}`, { headers: h() })],
        [`GET a path no route has (Next's 404)`, 404, () => fetch(`${baseUrl()}/integrations/${org}/openai/setup/nope`, { headers: h({ "x-api-key": key }) })],
        [`DELETE /providers (Next's 405)`, 405, () => fetch(`${baseUrl()}/providers`, { method: "DELETE", headers: h() })],
        [`POST /healthz (Next's 405)`, 405, () => fetch(`${baseUrl()}/healthz`, { method: "POST", headers: h(), body: "{}" })],
        [`a path that does not decode`, 400, () => fetch(`${baseUrl()}/integrations/%ff%fe`, { headers: h({ "x-api-key": key }) })],
        // Dot segments, sent as written (fetch would resolve them first): Next resolves them and
        // routes to the API, so the server must see the API's path too, not `/x/../…`.
        [`an API path reached through dot segments`, 200, () => rawGet(`/x/../integrations/${org}`, h({ "x-api-key": key }))],
        [`an encoded-dot path to an undecodable API path`, 400, () => rawGet(`/x/%2e%2e/integrations/%ff/openai/setup`, h({ "x-api-key": key }))],
        [`a declared body over 64 KiB`, 413, () => fetch(`${baseUrl()}/integrations/${org}/openai/setup`, { method: "POST", headers: h({ "x-api-key": key, "content-type": "application/json" }), body: "x".repeat(70_000) })],
        [`a chunked body over 64 KiB`, 413, () => fetch(`${baseUrl()}/integrations/${org}/openai/setup`, { method: "POST", headers: h({ "x-api-key": key, "content-type": "application/json" }), body: chunked(), duplex: "half" } as RequestInit)],
      );
      for (const [what, status, send] of cases.splice(0)) {
        const res = await send();
        await res.arrayBuffer();
        expect(res.status, what).toBe(status);
        expect(res.headers.get("content-security-policy"), what).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        if (https) expect(res.headers.get("strict-transport-security"), what).toMatch(/^max-age=\d{7,}; includeSubDomains$/);
        else expect(res.headers.get("strict-transport-security"), what).toBeNull();
      }
    }
  });
});

/** A GET with the path exactly as written (no client-side dot-segment resolution), as a Response. */
function rawGet(p: string, headers: Record<string, string>): Promise<Response> {
  const u = new URL(baseUrl());
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: "GET", path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: h }));
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("HSTS", () => {
  it("is sent when the request came over https (a TLS-terminating proxy says so), not over plain http", async () => {
    const plain = await fetch(`${baseUrl()}/sign-in`);
    expect(plain.headers.get("strict-transport-security")).toBeNull();
    const tls = await fetch(`${baseUrl()}/sign-in`, { headers: { "x-forwarded-proto": "https" } });
    expect(tls.headers.get("strict-transport-security")).toMatch(/^max-age=\d{7,}/);
    const csp = tls.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("upgrade-insecure-requests");
  });
});

describe("/readyz is not a free call to the key service and the store", () => {
  it("answers from one probe for a few seconds: breaking the key ring is not seen at once, then is", async () => {
    // Let any earlier probe's result expire, so the next call makes a fresh one.
    await new Promise((r) => setTimeout(r, 5_200));
    const first = await fetch(`${baseUrl()}/readyz`);
    expect(first.status).toBe(200);
    const ring = path.join(inject("dataDir"), "keyring.json");
    const saved = fs.readFileSync(ring);
    fs.writeFileSync(ring, "{ broken", { mode: 0o600 });
    try {
      // 50 unauthenticated calls right away: all from the cached probe (before: 50 key-ring reads, all 503).
      const burst = await Promise.all(Array.from({ length: 50 }, () => fetch(`${baseUrl()}/readyz`).then((r) => r.status)));
      expect(new Set(burst)).toEqual(new Set([200]));
      // The cache expires: a fresh probe sees the broken key ring.
      let status = 200;
      for (let i = 0; i < 40 && status === 200; i++) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await fetch(`${baseUrl()}/readyz`)).status;
      }
      expect(status).toBe(503);
    } finally {
      fs.writeFileSync(ring, saved, { mode: 0o600 });
      // Leave the server ready for the next file: the failing probe is served for up to 5 s more
      // (tests/security/fuzz.test.ts, run next in some orders, calls /readyz and allows no 5xx).
      for (let i = 0; i < 40 && (await fetch(`${baseUrl()}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 250));
    }
  });
});
