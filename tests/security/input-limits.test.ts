import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { makeServiceAccountKey } from "../fakes/gcp-keys";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { actionId, baseUrl, callAction, createApiKey, createOrganization, rest, signUp, type Session } from "./support";

/**
 * "Uneven limits and 5xx on bad input" (docs/security.md): every transport takes at most 64 KiB;
 * bodies Next cannot parse are 4xx, never 500; server actions parse their arguments; user-chosen
 * names that look like secrets are never echoed back.
 */

let owner: Session;
let org: string;
let key: string;

beforeAll(async () => {
  owner = await signUp();
  org = await createOrganization(owner);
  key = await createApiKey(owner, org);
});

/** A GCP key file padded to `bytes` with a long extra field: passes the format check's shape. */
function paddedKeyFile(bytes: number): string {
  const sa = makeServiceAccountKey({ projectId: "finops-limit-1" }).keyFile;
  const text = JSON.stringify(sa);
  return `${text.slice(0, -1)},"padding":"${"x".repeat(Math.max(0, bytes - text.length - 14))}"}`;
}

describe("one body limit (64 KiB) on every transport", () => {
  it("a 900 KB key file through the server action is 413 before the action runs", async () => {
    const r = await callAction({
      page: `/orgs/${org}/integrations/gcp`,
      file: "actions/integrations.ts",
      name: "setupIntegrationAction",
      args: [org, "gcp", { credential: { service_account_json: paddedKeyFile(900_000) } }],
      cookie: owner.cookie,
    });
    expect(r.status, r.text.slice(0, 300)).toBe(413);
    expect(JSON.parse(r.text)).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("the same through REST is 413", async () => {
    const r = await rest("POST", `/integrations/${org}/gcp/setup`, { key, body: { credential: { service_account_json: paddedKeyFile(900_000) } } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
  });

  it("a chunked body without Content-Length over 64 KiB is 413 as well, on a page and on a route", async () => {
    for (const target of [`/orgs/${org}/integrations/gcp`, `/integrations/${org}/gcp/setup`]) {
      const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ >= 8) controller.close();
          else controller.enqueue(chunk);
        },
      });
      const headers: Record<string, string> = { "content-type": "text/plain;charset=UTF-8", "x-api-key": key, cookie: owner.cookie };
      if (target.startsWith("/orgs/")) headers["next-action"] = actionId("actions/integrations.ts", "setupIntegrationAction");
      const res = await fetch(`${baseUrl()}${target}`, { method: "POST", headers, body, duplex: "half" } as RequestInit);
      expect(res.status, target).toBe(413);
    }
  });

  // Found by CI: answering 413 and then dropping the unread rest of a chunked body reset the
  // client's next request on the same keep-alive connection about one time in six. Now the rest is
  // read and dropped up to 1 MiB (the connection stays usable); past that the 413 says
  // `connection: close`, so no client sends its next request into a closing socket (the upload
  // itself may see the close first, as with a declared body over 1 MiB).
  it("an oversized chunked upload leaves the client's connection usable: the next requests on it are answered", async () => {
    const chunked = (chunks: number) => {
      const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ >= chunks) controller.close();
          else controller.enqueue(chunk);
        },
      });
    };
    const failures: string[] = [];
    // One request at a time: fetch's pool hands each next request the connection the last one used.
    for (const [what, chunks, closes] of [["128 KiB", 8, false], ["2 MiB", 128, true]] as const) {
      for (let i = 0; i < (closes ? 10 : 40); i++) {
        const up = await fetch(`${baseUrl()}/integrations/${org}/openai/setup`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": key },
          body: chunked(chunks),
          duplex: "half",
        } as RequestInit).then(
          async (r) => ({ status: r.status, connection: r.headers.get("connection"), body: await r.arrayBuffer() }),
          (e: { cause?: { code?: string } }) => ({ failed: e.cause?.code ?? String(e) }),
        );
        if ("failed" in up) {
          // Past 1 MiB the server stops reading and closes after its 413 (docs/decisions/014): a
          // client still sending may see the close (EPIPE, ECONNRESET, undici's "other side
          // closed") before it reads the answer.
          expect(closes, `${what}: the upload itself failed (${up.failed})`).toBe(true);
          expect(up.failed, what).toMatch(/^(EPIPE|ECONNRESET|UND_ERR_SOCKET)$/);
        } else {
          expect(up.status, what).toBe(413);
          expect(up.connection, what).toBe(closes ? "close" : "keep-alive");
        }
        for (const p of ["/providers", "/sign-in"]) {
          try {
            const next = await fetch(`${baseUrl()}${p}`);
            await next.arrayBuffer();
            if (next.status !== 200) failures.push(`${what} #${i} ${p}: ${next.status}`);
          } catch (e) {
            failures.push(`${what} #${i} ${p}: ${String((e as { cause?: { code?: string } }).cause?.code ?? e)}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  // A body over 1 MiB is not worth keeping the connection for, but closing at once (destroying a
  // socket with unread data sends RST) could reach the client before its 413: the server lingers,
  // reading and dropping what the client still sends, before it closes.
  it("a declared body over 1 MiB: the 413 arrives, the server keeps reading while the client still sends, then closes cleanly", async () => {
    const u = new URL(baseUrl());
    const mib = Buffer.alloc(1024 * 1024, 0x78);
    const outcome = await new Promise<{ answer: string; writesAfterAnswer: number; errorWhileSending: string | null; serverClosed: boolean }>((resolve) => {
      const socket = net.connect(Number(u.port), u.hostname);
      let answer = "";
      let writesAfterAnswer = 0;
      let sending = true;
      let errorWhileSending: string | null = null;
      let serverClosed = false;
      // Only errors while the body is still being sent count: once all of it is in, the server
      // closes (FIN, then its socket is gone), and what our side does then is not the point.
      socket.on("error", (e: NodeJS.ErrnoException) => {
        if (sending) errorWhileSending = e.code ?? e.message;
      });
      socket.on("end", () => (serverClosed = true));
      socket.on("close", () => resolve({ answer, writesAfterAnswer, errorWhileSending, serverClosed }));
      socket.on("data", async (d) => {
        const first = answer === "";
        answer += d.toString("latin1");
        if (!first) return;
        // The answer is here and the body is not finished: send the other 4 MiB, one at a time,
        // counting each the kernel took without an error.
        for (let i = 0; i < 4 && !socket.destroyed; i++) {
          const err = await new Promise<Error | null | undefined>((r) => socket.write(mib, r));
          if (err || socket.destroyed) break;
          writesAfterAnswer++;
        }
        sending = false;
        // No end() of ours: the server, having read the whole body, closes the connection itself.
      });
      socket.write(
        `POST /integrations/${org}/openai/setup HTTP/1.1\r\nHost: ${u.host}\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${5 * mib.length}\r\n\r\n`,
      );
      socket.write(mib);
    });
    expect(outcome.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(outcome.answer.toLowerCase()).toContain("connection: close");
    expect(outcome.answer).toContain('"code":"payload_too_large"');
    expect(outcome.errorWhileSending).toBeNull(); // no EPIPE / ECONNRESET while the body was sent
    expect(outcome.writesAfterAnswer).toBe(4);
    expect(outcome.serverClosed).toBe(true); // then the server closed (FIN), having read it all
  });

  it("a key file just under the limit still gets a proper answer (the limit is the only thing refusing the large one)", async () => {
    const r = await callAction({
      page: `/orgs/${org}/integrations/gcp`,
      file: "actions/integrations.ts",
      name: "setupIntegrationAction",
      args: [org, "gcp", { credential: { service_account_json: paddedKeyFile(40_000) } }],
      cookie: owner.cookie,
    });
    expect(r.status).toBe(200);
    expect(r.value).toMatchObject({ ok: false }); // no GCP fake here: the connection test fails, nothing else
    expect(r.value.error.code).not.toBe("internal");
  });
});

describe("bodies Next cannot parse are 4xx on every page, never 500", () => {
  const pages = () => ["/", "/sign-in", "/sign-up", "/orgs/new", `/orgs/${org}/integrations`, `/orgs/${org}/integrations/gcp`, `/orgs/${org}/settings/members`, "/invite/abc", "/no-such-page"];

  it("POST content-type: multipart/form-data with a body that is not multipart", async () => {
    for (const p of pages()) {
      for (const contentType of ["multipart/form-data", "multipart/form-data; boundary=xyz", "multipart/form-data; boundary=\"\""]) {
        const res = await fetch(`${baseUrl()}${p}`, { method: "POST", headers: { "content-type": contentType, cookie: owner.cookie }, body: "hello, not multipart" });
        expect(res.status, `${p} ${contentType}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${p} ${contentType}`).toBeLessThan(500);
      }
    }
  });

  it("server-action payloads React cannot decode (bad JSON, unknown references, missing parts, bad no-JS form posts)", async () => {
    const id = actionId("actions/integrations.ts", "validateIntegrationAction");
    const page = `/orgs/${org}/integrations`;
    const post = (body: BodyInit, headers: Record<string, string>) => fetch(`${baseUrl()}${page}`, { method: "POST", headers: { cookie: owner.cookie, ...headers }, body });
    const text = { "next-action": id, "content-type": "text/plain;charset=UTF-8" };
    const payloads: [string, () => Promise<Response>][] = [
      ["truncated JSON", () => post("[", text)],
      ["a promise reference", () => post('["$@1"]', text)],
      ["a Map reference", () => post('["$Q1"]', text)],
      ["a server reference", () => post('["$h1"]', text)],
      ["not an argument list", () => post('{"a":1}', text)],
      ["multipart without the root row", () => {
        const fd = new FormData();
        fd.append("_1_name", "x");
        return post(fd, { "next-action": id });
      }],
      ["multipart root referencing a missing row", () => {
        const fd = new FormData();
        fd.append("0", '["$@5"]');
        return post(fd, { "next-action": id });
      }],
      ["no-JS form post with a missing bound row", () => {
        const fd = new FormData();
        fd.append("$ACTION_REF_1", "");
        fd.append("$ACTION_1:0", JSON.stringify({ id, bound: "$@1" }));
        return post(fd, {});
      }],
      ["no-JS form post with a description that is not JSON", () => {
        const fd = new FormData();
        fd.append("$ACTION_REF_1", "");
        fd.append("$ACTION_1:0", "{nope");
        return post(fd, {});
      }],
    ];
    for (const [what, send] of payloads) {
      const res = await send();
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
    }
  });
});

describe("server actions parse their arguments at the boundary", () => {
  const calls = () =>
    [
      ["setupIntegrationAction", [{ slug: org }, "openai", { credential: { api_key: "sk-x" } }]],
      ["validateIntegrationAction", [{ slug: org }, "openai"]],
      ["validateIntegrationAction", [org, ["openai"]]],
      ["updateIntegrationMetadataAction", [[org], "openai", { label: "x" }]],
      ["deleteIntegrationAction", [org, { id: "openai" }]],
    ] as const;

  it("an object where the org slug (or provider) belongs is an invalid_request value naming the argument, not 500", async () => {
    for (const [name, args] of calls()) {
      const r = await callAction({ page: `/orgs/${org}/integrations/openai`, file: "actions/integrations.ts", name, args: [...args], cookie: owner.cookie });
      expect(r.status, name).toBe(200);
      expect(r.value, name).toMatchObject({ ok: false, error: { code: "invalid_request" } });
      expect(Object.keys(r.value.error.fields), name).toEqual([Array.isArray(args[0]) || typeof args[0] === "object" ? "org" : "provider"]);
    }
  });

  it("missing arguments are named too", async () => {
    const r = await callAction({ page: `/orgs/${org}/integrations`, file: "actions/integrations.ts", name: "validateIntegrationAction", args: [org], cookie: owner.cookie });
    expect(r.value).toMatchObject({ ok: false, error: { code: "invalid_request", fields: { provider: expect.any(String) } } });
  });
});

describe("tag names that look like secrets are never echoed", () => {
  const SECRET_NAMES = ["sk-admin-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AKIAIOSFODNN7EXAMPLE", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "k".repeat(80)];

  it("REST setup and metadata update, and the metadata server action, answer with the field hidden", async () => {
    for (const name of SECRET_NAMES) {
      const metadata = { tags: { [name]: 7 } }; // a bad value, so the error names the tag
      const setup = await rest("POST", `/integrations/${org}/openai/setup`, { key, body: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY }, metadata } });
      const update = await rest("PUT", `/integrations/${org}/openai/metadata`, { key, body: { metadata } });
      const action = await callAction({
        page: `/orgs/${org}/integrations/openai`,
        file: "actions/integrations.ts",
        name: "updateIntegrationMetadataAction",
        args: [org, "openai", metadata],
        cookie: owner.cookie,
      });
      expect(setup.status).toBe(400);
      expect(setup.body.error.fields).toHaveProperty(["metadata.tags.(hidden name)"]);
      for (const text of [setup.text, update.text, action.text]) expect(text).not.toContain(name);
    }
  });

  it("an ordinary tag name is still named", async () => {
    const r = await rest("POST", `/integrations/${org}/openai/setup`, { key, body: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY }, metadata: { tags: { "cost-center": 7 } } } });
    expect(r.body.error.fields).toHaveProperty(["metadata.tags.cost-center"]);
  });
});
