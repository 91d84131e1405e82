// `npm start`: build when there is no build or the sources changed since it, then serve on
// PORT (default 8000) with the embedded defaults. Next's own server handles the rest.
import { spawnSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = process.cwd();

// A quiet server log: no Next.js telemetry notice, and no AWS SDK notice about the Node version
// (Node 20 is supported by the SDK versions in package-lock.json). Either can be turned back on by
// setting the variable in the environment.
const env = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: process.env.NEXT_TELEMETRY_DISABLED ?? "1",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? "true",
};
const buildId = path.join(root, ".next", "BUILD_ID");

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

const sources = ["app", "actions", "lib", "configs", "next.config.ts", "package-lock.json"].map((p) => path.join(root, p));
const sourceTime = Math.max(
  ...sources.filter((p) => fs.existsSync(p)).map((p) => (fs.statSync(p).isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs)),
);
const built = fs.existsSync(buildId) ? fs.statSync(buildId).mtimeMs : 0;
const nextBin = path.join(root, "node_modules", ".bin", "next");

if (process.env.SKIP_BUILD !== "1" && built < sourceTime) {
  console.error(built ? "Sources changed since the last build: building…" : "No build yet: building (about 30 s)…");
  const r = spawnSync(nextBin, ["build"], { stdio: "inherit", env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// lib/scripts/server.mjs: Next's handler behind node:http, so server actions learn the socket address.
const child = spawn(process.execPath, [path.join(root, "lib", "scripts", "server.mjs")], { stdio: "inherit", env: { ...env, PORT: process.env.PORT || "8000" } });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
