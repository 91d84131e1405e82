// The production server: Next's request handler behind a plain node:http server, so that the one
// thing Next does not hand to server actions, the socket's address, reaches them. Any
// client-supplied `x-cm-client-address` is deleted and the header is set from
// `req.socket.remoteAddress` before Next sees the request (lib/auth/client-address.ts says why;
// custom servers: https://nextjs.org/docs/app/guides/custom-server).
//
// Usage: `PORT=8000 node lib/scripts/server.mjs` after `next build` (`npm start` does both);
// `node lib/scripts/server.mjs --dev` (`npm run dev`) runs Next's development server behind the same
// controls, so the API's headers and checks hold in development too.
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import crypto from "node:crypto";
import { API_CSP, BODY_LIMIT_BYTES, checkPath, DRAIN_LIMIT_BYTES, HSTS, isApiPath, servedOverHttps, TOO_LARGE_MESSAGE } from "../http/api-paths.mjs";
import { checkRouterStateHeader } from "../http/router-state.mjs";

const dev = process.argv.includes("--dev");
process.env.NODE_ENV ??= dev ? "development" : "production";
const { default: next } = await import("next");

const CLIENT_ADDRESS_HEADER = "x-cm-client-address";
const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const port = Number(process.env.PORT || 8000);
const hostname = process.env.HOSTNAME || undefined; // all interfaces, as `next start`

const app = next({ dev, dir, port, hostname: hostname ?? "localhost" });
await app.prepare();
const handle = app.getRequestHandler();

// Next prints the errors it catches itself (an unknown server-action id, an undecodable action
// payload, a render error) with console.error / console.warn, message first, and a message can
// quote input: `The Server Reference ID did not match the expected format. Received "<the
// Next-Action header>"` (tests/security/log-leaks.test.ts). Our own code logs through lib/log.ts;
// from here on, whatever else reaches these two is written as one JSON line with each Error
// argument's class name and `at …` stack frames only, as unexpectedErrorFields in lib/log.ts does,
// and no text argument (docs/security.md, "Defaults"). Startup messages above are left as they are.
// Not under --dev: a developer needs the framework's messages, and development data is their own.
const print = console.error.bind(console);
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
function framesOf(err) {
  const stack = typeof err.stack === "string" ? err.stack : "";
  const messageLines = typeof err.message === "string" ? err.message.split("\n").length : 1;
  return stack.split("\n").slice(messageLines).filter((l) => /^\s+at \S/.test(l)).slice(0, 8).map((l) => l.slice(0, 300)).join("\n");
}
for (const [method, level] of dev ? [] : [["error", 50], ["warn", 40]]) {
  console[method] = (...args) => {
    // Duck-typed: an error made in another realm (a vm context) is not `instanceof Error` here.
    const first = args.find((a) => a !== null && typeof a === "object" && typeof a.stack === "string");
    print(
      JSON.stringify({
        level,
        time: new Date().toISOString(),
        msg: `console.${method} from the framework (text arguments withheld: they can quote input)`,
        args: args.length,
        ...(first ? { err_name: typeof first.name === "string" && NAME.test(first.name) ? first.name : "Error", stack: framesOf(first) } : {}),
      }),
    );
  };
}

/**
 * The path Next.js routes a request line's target to: parsed the way Next parses it
 * (next/dist/shared/lib/router/utils/parse-relative-url.js: an origin-form target is appended to
 * `http://n`, anything else parsed as an absolute URL), so dot segments (`/x/../integrations/…`,
 * `%2e%2e` too) are resolved here as they are there, and a path Next routes to the API is the
 * API's here. A target no URL parser accepts: null (refused with 400 below).
 */
function pathOf(target) {
  try {
    return new URL(target.startsWith("/") ? `http://n${target}` : target).pathname;
  } catch {
    return null;
  }
}

/** A refusal in the API's error shape (docs/api.md), with a request id like every other answer. */
function refuse(res, status, code, message, headers = {}) {
  const requestId = crypto.randomUUID();
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-request-id": requestId, ...headers });
  res.end(JSON.stringify({ error: { code, message, request_id: requestId } }));
}

/** How long, and how much, a closing connection still reads of a body it refused (lingerThenClose). */
const LINGER_MS = 5_000; // nginx's lingering_timeout default
const LINGER_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Closes the connection after its answer without losing the answer: Node ends a `connection:
 * close` answer with socket.destroySoon() (FIN, then destroy once written), and destroying a
 * socket with unread data sends RST, which can reach the client before it reads the 413 (it saw
 * EPIPE about one time in twenty). So, as nginx's lingering close does
 * (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close), the write side is
 * shut and what the client still sends is read and dropped until the body ends, LINGER_MS pass or
 * LINGER_LIMIT_BYTES arrive, whichever is first; then the socket is destroyed.
 */
function lingerThenClose(req) {
  const socket = req.socket;
  const closeSoon = socket.destroySoon.bind(socket); // Node's own: FIN once written, then destroy
  let answered = false;
  let ended = false;
  let read = 0;
  let timer;
  const stop = () => {
    clearTimeout(timer);
    closeSoon();
  };
  socket.destroySoon = () => {
    answered = true;
    if (ended) return closeSoon();
    socket.end();
    timer = setTimeout(stop, LINGER_MS);
    timer.unref();
  };
  req.on("data", (chunk) => {
    read += chunk.length;
    if (read > LINGER_LIMIT_BYTES) stop();
  });
  req.once("end", () => {
    ended = true;
    if (answered) stop();
  });
  req.resume();
}

// Read once Next has loaded the .env files: the public origin decides HSTS (lib/http/api-paths.mjs).
const publicOrigin = process.env.BETTER_AUTH_URL;

const server = http.createServer((req, res) => {
  // A router-state header Next cannot parse is a 500 inside Next, and proxy.ts never sees it.
  const routerState = req.headers["next-router-state-tree"];
  if (routerState !== undefined && checkRouterStateHeader(routerState)) {
    refuse(res, 400, "invalid_request", checkRouterStateHeader(routerState));
    return;
  }
  // The JSON API's paths are outside proxy.ts (its matcher): they get its head check and headers
  // here, before Next, so every answer on them carries the headers, the route handlers' and Next's
  // own (404, 405, 500) alike; the route wrapper (lib/http/route.ts) counts the bodies it reads,
  // chunked ones included (docs/decisions/014-api-routes-outside-the-proxy.md).
  const pathname = pathOf(req.url ?? "/");
  if (pathname === null) {
    refuse(res, 400, "invalid_request", "The request target is not a valid URL.", { "content-security-policy": API_CSP });
    return;
  }
  if (isApiPath(pathname)) {
    res.setHeader("content-security-policy", API_CSP);
    if (servedOverHttps(req.socket.encrypted === true, req.headers["x-forwarded-proto"], publicOrigin)) res.setHeader("strict-transport-security", HSTS);
    const badPath = checkPath(pathname);
    if (badPath) {
      refuse(res, 400, "invalid_request", badPath);
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > BODY_LIMIT_BYTES) {
      // Never buffered. A body up to DRAIN_LIMIT_BYTES is read and dropped after the answer, so
      // the client, still sending, reads the 413 instead of a connection reset (closing a socket
      // with unread data makes the kernel send RST: RFC 1122 §4.2.2.13), and the connection stays
      // usable; a larger one is not worth keeping the connection for: it closes after the answer,
      // lingering first so the 413 is still read (lingerThenClose).
      const drain = Number(declared) <= DRAIN_LIMIT_BYTES;
      refuse(res, 413, "payload_too_large", TOO_LARGE_MESSAGE, drain ? {} : { connection: "close" });
      if (drain) req.resume();
      else lingerThenClose(req);
      return;
    }
  }
  // Node folds repeated headers into one value; deleting the key removes every client copy.
  delete req.headers[CLIENT_ADDRESS_HEADER];
  req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? "";
  handle(req, res).catch((err) => {
    print(JSON.stringify({ level: 50, msg: "unhandled error in the request handler", err_name: err?.name ?? "Error" }));
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});
server.listen(port, hostname, () => {
  print(`ready on http://${hostname ?? "localhost"}:${port}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  });
}
