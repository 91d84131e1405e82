import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The small core the provider fakes share: a node:http server on 127.0.0.1 that records every
 * request (full headers included: tests assert how the key was sent) and answers through a handler.
 * A handler may return "hang" to never answer (for timeout tests); close() drops such requests.
 */

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. "/v1/models?pageSize=1". */
  path: string;
  /** Path without the query. */
  pathname: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  /** Serialized as JSON unless it is a string. */
  body?: unknown;
}

export type FakeHandler<Mode extends string> = (req: RecordedRequest, mode: Mode) => FakeReply | "hang";

export interface FakeServer<Mode extends string> {
  /** Origin of the fake, e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** Forces a behaviour for every request ("normal" restores the per-key behaviour). */
  setMode(mode: Mode): void;
  /** Empties `requests`. */
  clearRequests(): void;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  port?: number;
  host?: string;
}

export async function startFakeServer<Mode extends string>(
  handler: FakeHandler<Mode>,
  initialMode: Mode,
  opts: FakeServerOptions = {},
): Promise<FakeServer<Mode>> {
  let mode = initialMode;
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 1024 * 1024) chunks.push(chunk);
    });
    req.on("end", () => {
      const parsed = new URL(req.url ?? "/", "http://fake.invalid");
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        pathname: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      requests.push(recorded);
      let reply: FakeReply | "hang";
      try {
        reply = handler(recorded, mode);
      } catch {
        reply = { status: 500, body: { error: { message: "fake crashed" } } };
      }
      if (reply === "hang") return; // never answer; close() destroys the socket
      const text = typeof reply.body === "string" ? reply.body : reply.body === undefined ? "" : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        "content-type": typeof reply.body === "string" ? "text/plain; charset=utf-8" : "application/json",
        "content-length": String(Buffer.byteLength(text)),
        ...reply.headers,
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;

  let closed: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    setMode(next: Mode) {
      mode = next;
    },
    clearRequests() {
      requests.length = 0;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The first value of a request header, or null. */
export function header(req: RecordedRequest, name: string): string | null {
  const value = req.headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
