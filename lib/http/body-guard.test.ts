import { describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES, checkRequestBody, checkRequestHead, checkReplyRow, readBodyUpTo } from "./body-guard";
import { checkRouterStateHeader } from "./router-state.mjs";

const enc = (s: string) => new TextEncoder().encode(s);
const check = (headers: Record<string, string>, body: string, declaredLength: number | null = null) =>
  checkRequestBody({ headers: new Headers(headers), body: enc(body), declaredLength });

async function multipartOf(fd: FormData): Promise<{ contentType: string; body: string }> {
  const r = new Request("http://x/", { method: "POST", body: fd });
  return { contentType: r.headers.get("content-type")!, body: await r.text() };
}

describe("body guard", () => {
  it("one limit: declared or counted", async () => {
    expect(await check({}, "x", BODY_LIMIT_BYTES + 1)).toMatchObject({ status: 413 });
    expect(await check({}, "x".repeat(BODY_LIMIT_BYTES + 1))).toMatchObject({ status: 413 });
    expect(await check({ "content-type": "application/json" }, "x".repeat(BODY_LIMIT_BYTES))).toBeNull();
  });

  it("multipart must parse", async () => {
    expect(await check({ "content-type": "multipart/form-data" }, "hello")).toMatchObject({ status: 400 });
    expect(await check({ "content-type": "multipart/form-data; boundary=xyz" }, "hello")).toMatchObject({ status: 400 });
    const fd = new FormData();
    fd.append("name", "x");
    const ok = await multipartOf(fd);
    expect(await check({ "content-type": ok.contentType }, ok.body)).toBeNull();
  });

  it("server-action payloads: what our pages send passes, React references they never send do not", async () => {
    const action = { "next-action": "40ab", "content-type": "text/plain;charset=UTF-8" };
    expect(await check(action, '["acme","$$literal",{"a":"$undefined"},"$D2024-01-01T00:00:00.000Z"]')).toBeNull();
    for (const bad of ["[", "{}", '["$@1"]', '["$Q1"]', '["$h1"]', '["$T"]', '["$K1"]', '[{"$x":1}]', `[${"[".repeat(100)}${"]".repeat(100)}]`]) {
      expect(await check(action, bad), bad).toMatchObject({ status: 400 });
    }
    const fd = new FormData();
    fd.append("_1_email", "a@b.c");
    fd.append("0", '[null,"$K1"]');
    const form = await multipartOf(fd);
    expect(await check({ "next-action": "40ab", "content-type": form.contentType }, form.body)).toBeNull();
    const noRoot = new FormData();
    noRoot.append("_1_email", "a@b.c");
    const m = await multipartOf(noRoot);
    expect(await check({ "next-action": "40ab", "content-type": m.contentType }, m.body)).toMatchObject({ status: 400 });
  });

  it("no-JS form posts: well-formed passes, broken descriptions do not", async () => {
    const good = new FormData();
    good.append("$ACTION_REF_1", "");
    good.append("$ACTION_1:0", JSON.stringify({ id: "40ab", bound: "$@1" }));
    good.append("$ACTION_1:1", "[null]");
    good.append("$ACTION_KEY", "k0");
    good.append("email", "a@b.c");
    const g = await multipartOf(good);
    expect(await check({ "content-type": g.contentType }, g.body)).toBeNull();
    for (const [meta, bound] of [["{nope", null], [JSON.stringify({ id: "40ab", bound: "$@1" }), null], [JSON.stringify({ id: "40ab", bound: "$Q1" }), "[]"]] as const) {
      const fd = new FormData();
      fd.append("$ACTION_REF_1", "");
      fd.append("$ACTION_1:0", meta);
      if (bound) fd.append("$ACTION_1:1", bound);
      const b = await multipartOf(fd);
      expect(await check({ "content-type": b.contentType }, b.body), meta).toMatchObject({ status: 400 });
    }
  });

  it("checkReplyRow walks without recursion", () => {
    expect(checkReplyRow(`[${"[".repeat(20000)}${"]".repeat(20000)}]`, null, true)).toMatch(/levels deep/);
  });
});

function stream(chunks: number[]): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let i = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(new Uint8Array(chunks[i++]!).fill(0x61));
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, pulled: () => i, cancelled: () => cancelled };
}

describe("readBodyUpTo (the one body reader of the REST routes and the proxy)", () => {
  it("reads a body within the limit whole", async () => {
    const s = stream([10, 20, 30]);
    const r = await readBodyUpTo(s.body, 100);
    expect(r.tooLarge).toBe(false);
    expect(r.bytes.byteLength).toBe(60);
    expect(Buffer.from(r.bytes).toString()).toBe("a".repeat(60));
  });

  it("past the limit, reads the rest to its end and keeps none of it, so the connection stays usable", async () => {
    const s = stream([60, 60, 60, 60]);
    const r = await readBodyUpTo(s.body, 100, 1000);
    expect(r).toMatchObject({ tooLarge: true, unread: false });
    expect(r.bytes.byteLength).toBe(120); // up to the chunk that crossed the limit
    expect(s.pulled()).toBe(4);
    expect(s.cancelled()).toBe(false);
  });

  it("past the drain limit, stops reading without cancelling (cancelling destroys the connection) and says so", async () => {
    const s = stream([60, 60, 60, 60, 60, 60]);
    const r = await readBodyUpTo(s.body, 100, 200);
    expect(r).toMatchObject({ tooLarge: true, unread: true });
    expect(r.bytes.byteLength).toBe(120);
    expect(s.pulled()).toBeLessThan(6); // 4 read (240 > 200), at most one more queued by the stream, the last never
    expect(s.cancelled()).toBe(false);
  });

  it("exactly the limit is not too large; no body is empty; the default limit is 64 KiB", async () => {
    expect((await readBodyUpTo(stream([100]).body, 100)).tooLarge).toBe(false);
    expect(await readBodyUpTo(null)).toEqual({ bytes: new Uint8Array(0), tooLarge: false, unread: false });
    expect(BODY_LIMIT_BYTES).toBe(64 * 1024);
    expect((await readBodyUpTo(stream([BODY_LIMIT_BYTES, 1]).body)).tooLarge).toBe(true);
  });
});

describe("request head guard", () => {
  const head = (method: string, pathname: string, headers: Record<string, string> = {}, isApi = false) =>
    checkRequestHead({ method, pathname, headers: new Headers({ host: "app.example", ...headers }), isApi });

  it("paths that do not decode, or decode to control characters, are 400", () => {
    expect(head("GET", "/orgs/%ff%fe/integrations")).toMatchObject({ status: 400 });
    expect(head("GET", "/orgs/%00/settings")).toMatchObject({ status: 400 });
    expect(head("GET", "/orgs/acme%2dx/integrations")).toBeNull();
  });

  it("router-state headers: what the client router sends passes, anything else is 400", () => {
    const tree = ["", { children: ["orgs", { children: [["org", "acme", "d", null], { children: ["__PAGE__", {}, null, null, 0] }] }] }, null, null, 0];
    expect(checkRouterStateHeader(encodeURIComponent(JSON.stringify(tree)))).toBeNull();
    for (const bad of ["garbage", "%7B%7D", "[[[[[", encodeURIComponent('["",{"children":["orgs",{}]}]').replace("%5D", "%"), encodeURIComponent(JSON.stringify([["org", "acme", "zz", null], {}]))]) {
      expect(checkRouterStateHeader(bad), bad).not.toBeNull();
    }
  });

  it("a cross-site Origin on a request that can run a server action is 403; same-site and API routes pass", () => {
    expect(head("POST", "/sign-in", { origin: "https://evil.example" })).toMatchObject({ status: 403 });
    expect(head("POST", "/sign-in", { origin: "null" })).toMatchObject({ status: 403 });
    expect(head("POST", "/sign-in", { origin: "http://app.example" })).toBeNull();
    expect(head("GET", "/sign-in", { origin: "https://evil.example" })).toBeNull();
    expect(head("POST", "/integrations/acme/openai/setup", { origin: "https://evil.example" }, true)).toBeNull();
  });
});
