#!/usr/bin/env node
// Route budget: the client JS (gzip) each page of the last `next build` makes a browser load on
// first visit, read from the build's own manifests, checked against a budget per route.
//
//   node tests/support/route-budget.mjs        (tests/run.sh runs it right after `next build`)
//
// First-load JS of a route = the framework runtime every page loads (build-manifest.json
// `rootMainFiles`: React DOM, the App Router, Turbopack's runtime) + the client chunks of the
// route's layouts and page, its not-found and error boundaries included (the route's
// `page_client-reference-manifest.js`, `entryJSFiles`). Each file is counted once, gzip level 6
// (what servers send). The nomodule polyfills are not counted: modern browsers skip them.
//
// The budgets: the framework runtime alone is ~132 kB gzip with Next 16.4 + React 19.3 (the same
// with webpack), so no page can be under 120 kB in total. What the app controls is the JS a route
// adds on top of it ("own"), and that is what is budgeted: a signed-out page adds next to nothing;
// a signed-in page adds the header, and the connect page the form and the zod schema the server
// uses. The total budget is the framework plus the route's own allowance.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const root = path.resolve(process.argv[2] ?? ".next");
const KB = 1000;

/** Own-JS allowance per route (kB gzip), first match wins. */
const BUDGETS = [
  { match: /^\/(sign-in|sign-up|forgot-password|reset-password|verify-email)?$/, own: 12, why: "signed out" },
  { match: /^\/invite\//, own: 15, why: "signed out" },
  { match: /^\/orgs\/\[org\]\/integrations\/\[provider\]$/, own: 30, why: "connect form; zod loads on first use" },
  { match: /^\/orgs\/\[org\]\/settings(\/|$)/, own: 45, why: "settings managers" },
  { match: /./, own: 20, why: "signed in" },
];

const readJson = (f) => JSON.parse(fs.readFileSync(path.join(root, f), "utf8"));
const gzCache = new Map();
function gz(file) {
  let n = gzCache.get(file);
  if (n === undefined) {
    n = zlib.gzipSync(fs.readFileSync(path.join(root, file)), { level: 6 }).length;
    gzCache.set(file, n);
  }
  return n;
}
const sum = (files) => [...files].reduce((a, f) => a + gz(f), 0);

function manifests(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) manifests(p, out);
    else if (e.name === "page_client-reference-manifest.js") out.push(p);
  }
  return out;
}

/** The manifest is a script that assigns globalThis.__RSC_MANIFEST[<entry>]; run it in a sandbox object. */
function entryJSFiles(file) {
  const sandbox = { __RSC_MANIFEST: {} };
  sandbox.self = sandbox;
  sandbox.globalThis = sandbox;
  new Function("globalThis", "self", fs.readFileSync(file, "utf8"))(sandbox, sandbox);
  const [entry, m] = Object.entries(sandbox.__RSC_MANIFEST)[0] ?? [];
  if (!entry || !m?.entryJSFiles) throw new Error(`${file}: no entryJSFiles (has the manifest format changed?)`);
  return { entry, files: Object.values(m.entryJSFiles).flat() };
}

/** "/(auth)/sign-in/page" → "/sign-in". */
const routeOf = (entry) => entry.replace(/\/page$/, "").replace(/\/\([^)]+\)/g, "") || "/";

if (!fs.existsSync(path.join(root, "build-manifest.json"))) {
  console.error(`route budget: no build in ${root} (run \`npx next build\` first)`);
  process.exit(2);
}
const framework = new Set(readJson("build-manifest.json").rootMainFiles ?? []);
const frameworkBytes = sum(framework);
const rows = [];
for (const f of manifests(path.join(root, "server", "app"))) {
  const { entry, files } = entryJSFiles(f);
  const route = routeOf(entry);
  if (route === "/_global-error") continue; // not a page anyone visits
  const all = new Set([...framework, ...files]);
  const total = sum(all);
  const budget = BUDGETS.find((b) => b.match.test(route));
  rows.push({ route, total, own: total - frameworkBytes, budget, limit: frameworkBytes + budget.own * KB });
}
rows.sort((a, b) => a.route.localeCompare(b.route));

const kb = (n) => (n / KB).toFixed(1).padStart(6);
console.log(`First-load client JS per route (gzip, kB). Framework runtime shared by every page: ${(frameworkBytes / KB).toFixed(1)} kB.`);
console.log(`${"route".padEnd(44)} ${"total".padStart(6)} ${"own".padStart(6)} ${"budget".padStart(6)}  status`);
let over = 0;
for (const r of rows) {
  const ok = r.total <= r.limit;
  if (!ok) over++;
  console.log(`${r.route.padEnd(44)} ${kb(r.total)} ${kb(r.own)} ${kb(r.budget.own * KB)}  ${ok ? "ok" : "OVER"} (${r.budget.why})`);
}
if (over) {
  console.error(`\nroute budget: ${over} route(s) over budget (own JS beyond the framework runtime). Drop client libraries or move work to server components.`);
  process.exit(1);
}
console.log(`\nroute budget: all ${rows.length} routes within budget.`);
