/**
 * What the attack suite needs to act as an outsider would: real accounts and sessions made through
 * the real sign-up server action, real server-action calls over HTTP (the same wire format the
 * browser's React client sends), the REST API, and a /healthz latency probe for stall checks.
 *
 * Server actions over HTTP: POST to a page with `Next-Action: <id>`; the ids are read from the
 * build's own manifest (.next/server/server-reference-manifest.json, keyed by file and export).
 * Arguments are encoded as React's `encodeReply` does: a JSON array (strings starting with `$`
 * escaped as `$$`) as text/plain, or, when an argument is a FormData, multipart with the root row
 * in field `0` (last), the FormData as `$K1` and its entries as fields `_1_<name>` (first).
 * The answer is React's flight format: one `<hex id>:<json>` row per line; row 0 is
 * `{"a": "$@1", …}` and row 1 the action's return value.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { inject } from "vitest";

export const ROOT = path.resolve(__dirname, "..", "..");
export const PASSWORD = "correct horse battery staple";

export function baseUrl(): string {
  return inject("baseUrl");
}

type Manifest = { node: Record<string, { filename: string; exportedName: string; workers: Record<string, unknown> }> };
let manifest: Manifest | null = null;

/** The id of a server action in the current build, e.g. actionId("actions/integrations.ts", "setupIntegrationAction"). */
export function actionId(file: string, exportedName: string): string {
  manifest ??= JSON.parse(fs.readFileSync(path.join(ROOT, ".next", "server", "server-reference-manifest.json"), "utf8")) as Manifest;
  for (const [id, entry] of Object.entries(manifest.node)) {
    if (entry.filename === file && entry.exportedName === exportedName) return id;
  }
  throw new Error(`No server action ${file}#${exportedName} in the build (rebuild?)`);
}

function escapeStrings(v: unknown): unknown {
  if (typeof v === "string") return v.startsWith("$") ? `$${v}` : v;
  if (Array.isArray(v)) return v.map(escapeStrings);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeStrings(x)]));
  return v === undefined ? "$undefined" : v;
}

/** React's encodeReply for the argument shapes our actions take (JSON values, at most one FormData). */
export function encodeActionArgs(args: unknown[]): { body: string | FormData; contentType?: string } {
  const formIndex = args.findIndex((a) => a instanceof FormData);
  if (formIndex < 0) return { body: JSON.stringify(escapeStrings(args)), contentType: "text/plain;charset=UTF-8" };
  const fd = new FormData();
  const root = args.map((a, i) => (i === formIndex ? "$K1" : escapeStrings(a)));
  // The client appends the FormData's entries first and the root row last: the server decodes
  // rows as they stream in, and `$K1` takes the entries already received.
  for (const [k, v] of (args[formIndex] as FormData).entries()) fd.append(`_1_${k}`, v);
  fd.append("0", JSON.stringify(root));
  return { body: fd }; // fetch sets multipart/form-data with its boundary
}

/** Decode a flight answer's rows into the action's return value (row 0's `a`). */
export function decodeFlight(text: string): unknown {
  const rows = new Map<string, unknown>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+):(.*)$/.exec(line);
    if (!m) continue;
    try {
      rows.set(m[1]!, JSON.parse(m[2]!));
    } catch {
      /* a text or error row: not a value */
    }
  }
  const resolve = (v: unknown, depth = 0): unknown => {
    if (depth > 50) return v;
    if (typeof v === "string") {
      if (v.startsWith("$$")) return v.slice(1);
      if (v === "$undefined") return undefined;
      const ref = /^\$@([0-9a-f]+)$/.exec(v);
      if (ref) return resolve(rows.get(ref[1]!), depth + 1);
      return v;
    }
    if (Array.isArray(v)) return v.map((x) => resolve(x, depth + 1));
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, depth + 1)]));
    return v;
  };
  const root = rows.get("0") as { a?: unknown } | undefined;
  return root && "a" in root ? resolve(root.a) : undefined;
}

export interface ActionReply {
  status: number;
  headers: Headers;
  text: string;
  /** The action's return value, when the answer is a flight payload with one. */
  value: any;
  /** Where the action redirected (x-action-redirect), if it did. */
  redirect: string | null;
  /** Cookies the answer set, as `name=value` pairs ready for a Cookie header. */
  setCookies: string[];
}

/**
 * Call a server action over HTTP as the browser does. `page` is the path the browser is on (the
 * action must be used by that page's tree); `cookie` the session cookie, if any.
 */
export async function callAction(opts: {
  page: string;
  file: string;
  name: string;
  args: unknown[];
  cookie?: string;
  /** Send this body and content type as-is instead of encoding `args` (for malformed payloads). */
  raw?: { body: string | Uint8Array | FormData; contentType?: string };
  headers?: Record<string, string>;
}): Promise<ActionReply> {
  const id = actionId(opts.file, opts.name);
  const enc = opts.raw ?? encodeActionArgs(opts.args);
  const headers: Record<string, string> = {
    "next-action": id,
    accept: "text/x-component",
    origin: baseUrl(),
    ...(enc.contentType ? { "content-type": enc.contentType } : {}),
    ...(opts.cookie ? { cookie: opts.cookie } : {}),
    ...opts.headers,
  };
  const res = await fetch(`${baseUrl()}${opts.page}`, { method: "POST", headers, body: enc.body as BodyInit, redirect: "manual" });
  const text = await res.text();
  const setCookies = res.headers.getSetCookie().map((c) => c.split(";")[0] ?? "");
  let value: unknown;
  if ((res.headers.get("content-type") ?? "").includes("text/x-component")) value = decodeFlight(text);
  return { status: res.status, headers: res.headers, text, value, redirect: res.headers.get("x-action-redirect"), setCookies };
}

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString("hex")}@example.com`;
}

export function uniqueSlug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${crypto.randomBytes(2).toString("hex")}`;
}

export interface Session {
  email: string;
  /** `cm.session_token=…`, for the Cookie header. */
  cookie: string;
}

function sessionCookie(setCookies: string[]): string | null {
  return setCookies.find((c) => /^(__Secure-)?cm\.session_token=/.test(c)) ?? null;
}

/** A new account through the sign-up server action, as the sign-up form submits it. */
export async function signUp(opts: { email?: string; name?: string; password?: string; headers?: Record<string, string> } = {}): Promise<Session> {
  const email = opts.email ?? uniqueEmail("attacker");
  const fd = new FormData();
  fd.append("name", opts.name ?? "Mallory");
  fd.append("email", email);
  fd.append("password", opts.password ?? PASSWORD);
  fd.append("next", "/");
  const r = await callAction({ page: "/sign-up", file: "actions/auth.ts", name: "signUpAction", args: [null, fd], headers: opts.headers });
  const cookie = sessionCookie(r.setCookies);
  if (!cookie) throw new Error(`sign-up did not start a session (status ${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return { email, cookie };
}

/** Sign in through the sign-in server action; null when no session was started. */
export async function signIn(email: string, password = PASSWORD, headers?: Record<string, string>): Promise<{ cookie: string | null; reply: ActionReply }> {
  const fd = new FormData();
  fd.append("email", email);
  fd.append("password", password);
  fd.append("next", "/");
  const reply = await callAction({ page: "/sign-in", file: "actions/auth.ts", name: "signInAction", args: [null, fd], headers });
  return { cookie: sessionCookie(reply.setCookies), reply };
}

/** A new organization owned by the session's user, through the create-organization form action. */
export async function createOrganization(session: Session, slug = uniqueSlug("org")): Promise<string> {
  const fd = new FormData();
  fd.append("name", `Org ${slug}`);
  fd.append("slug", slug);
  const r = await callAction({ page: "/orgs/new", file: "actions/auth.ts", name: "createOrganizationAction", args: [null, fd], cookie: session.cookie });
  if (!r.redirect?.startsWith(`/orgs/${slug}`)) throw new Error(`create organization failed (${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return slug;
}

/** An org API key made by the session's user through the API-keys action (shown once). */
export async function createApiKey(session: Session, org: string, role: "admin" | "viewer" = "admin"): Promise<string> {
  const r = await callAction({
    page: `/orgs/${org}/settings/api-keys`,
    file: "actions/api-keys.ts",
    name: "createApiKeyAction",
    args: [org, { role, label: `key-${role}` }],
    cookie: session.cookie,
  });
  const key = r.value?.data?.apiKey;
  if (typeof key !== "string") throw new Error(`create API key failed (${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return key;
}

/** One GET /healthz, timed (ms). */
export async function healthzLatency(): Promise<number> {
  const t = performance.now();
  const r = await fetch(`${baseUrl()}/healthz`);
  await r.text();
  return performance.now() - t;
}

/**
 * Probe /healthz every `everyMs` while `attack` runs; returns the attack's result and the worst
 * latency seen. A request that holds the server's event loop shows up here as a slow /healthz.
 */
export async function whileProbing<T>(attack: () => Promise<T>, everyMs = 50): Promise<{ result: T; worstMs: number; samples: number }> {
  let done = false;
  let worst = 0;
  let samples = 0;
  const probe = (async () => {
    while (!done) {
      worst = Math.max(worst, await healthzLatency());
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    const result = await attack();
    return { result, worstMs: worst, samples };
  } finally {
    done = true;
    await probe;
  }
}

/** A REST call with an org API key. */
export async function rest(method: string, p: string, opts: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers["x-api-key"] = opts.key;
  if (opts.body !== undefined || opts.raw !== undefined) headers["content-type"] ??= "application/json";
  const res = await fetch(`${baseUrl()}${p}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text };
}
