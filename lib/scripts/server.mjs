// The production server: Next's request handler behind a plain node:http server, so that the one
// thing Next does not hand to server actions, the socket's address, reaches them. Any
// client-supplied `x-cm-client-address` is deleted and the header is set from
// `req.socket.remoteAddress` before Next sees the request (lib/auth/client-address.ts says why;
// custom servers: https://nextjs.org/docs/app/guides/custom-server).
//
// Usage: `PORT=8000 node lib/scripts/server.mjs` after `next build` (`npm start` does both).
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkRouterStateHeader } from "../http/router-state.mjs";

process.env.NODE_ENV ??= "production";
const { default: next } = await import("next");

const CLIENT_ADDRESS_HEADER = "x-cm-client-address";
const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const port = Number(process.env.PORT || 8000);
const hostname = process.env.HOSTNAME || undefined; // all interfaces, as `next start`

const app = next({ dev: false, dir, port, hostname: hostname ?? "localhost" });
await app.prepare();
const handle = app.getRequestHandler();

const server = http.createServer((req, res) => {
  // A router-state header Next cannot parse is a 500 inside Next, and proxy.ts never sees it.
  const routerState = req.headers["next-router-state-tree"];
  if (routerState !== undefined && checkRouterStateHeader(routerState)) {
    res.writeHead(400, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify({ error: { code: "invalid_request", message: checkRouterStateHeader(routerState) } }));
    return;
  }
  // Node folds repeated headers into one value; deleting the key removes every client copy.
  delete req.headers[CLIENT_ADDRESS_HEADER];
  req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? "";
  handle(req, res).catch((err) => {
    console.error(JSON.stringify({ level: 50, msg: "unhandled error in the request handler", err_name: err?.name ?? "Error" }));
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});
server.listen(port, hostname, () => {
  console.error(`ready on http://${hostname ?? "localhost"}:${port}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  });
}
