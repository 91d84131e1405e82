/**
 * The accounts side of the attack suite (tests/security/auth-*.test.ts): requests from a chosen
 * loopback source address (127.x.y.z: the server sees a different socket address per "machine",
 * which is what the attempt budgets key on), server actions against any stack (the suite's, or
 * one these files start with SMTP), and a real SMTP server (the `smtp-server` package) that keeps
 * every message with its envelope.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { startSmtpFake } from "../fakes/smtp";
import { actionId, decodeFlight, encodeActionArgs, PASSWORD, uniqueEmail, uniqueSlug } from "./support";

export { PASSWORD, uniqueEmail, uniqueSlug };

/** A loopback address no other test uses: a machine of its own. */
export function freshAddress(): string {
  const b = crypto.randomBytes(3);
  return `127.${1 + (b[0]! % 250)}.${b[1]}.${1 + (b[2]! % 250)}`;
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** `name=value` of every Set-Cookie. */
  setCookies: string[];
  /** The raw Set-Cookie lines (attributes included). */
  setCookieLines: string[];
}

/** One HTTP request from `from` (a local source address). */
export async function httpFrom(
  base: string,
  from: string,
  method: string,
  p: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpReply> {
  const url = new URL(p, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method, headers: opts.headers, localAddress: from },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const lines = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8"), setCookies: lines.map((l) => l.split(";")[0]!), setCookieLines: lines });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

export interface ActionCall {
  status: number;
  text: string;
  value: any;
  redirect: string | null;
  setCookies: string[];
  setCookieLines: string[];
}

/** A server action called over HTTP as the browser does (support.ts's wire format), from `from`. */
export async function actionFrom(
  base: string,
  from: string,
  opts: { page: string; file: string; name: string; args: unknown[]; cookie?: string; headers?: Record<string, string>; raw?: { body: string; contentType: string } },
): Promise<ActionCall> {
  let body: Buffer;
  let contentType: string;
  if (opts.raw) {
    body = Buffer.from(opts.raw.body);
    contentType = opts.raw.contentType;
  } else {
    const enc = encodeActionArgs(opts.args);
    if (typeof enc.body === "string") {
      body = Buffer.from(enc.body);
      contentType = enc.contentType!;
    } else {
      const r = new Response(enc.body);
      contentType = r.headers.get("content-type")!;
      body = Buffer.from(await r.arrayBuffer());
    }
  }
  const headers: Record<string, string> = {
    "next-action": actionId(opts.file, opts.name),
    accept: "text/x-component",
    origin: base,
    "content-type": contentType,
    ...(opts.cookie ? { cookie: opts.cookie } : {}),
    ...opts.headers,
  };
  const r = await httpFrom(base, from, "POST", opts.page, { headers, body });
  // `x-action-redirect: <path>;push` (Next appends the history mode).
  const redirect = (r.headers["x-action-redirect"] as string | undefined)?.split(";")[0] ?? null;
  const value = String(r.headers["content-type"] ?? "").includes("text/x-component") ? decodeFlight(r.text) : undefined;
  return { status: r.status, text: r.text, value, redirect, setCookies: r.setCookies, setCookieLines: r.setCookieLines };
}

function form(fields: Record<string, string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

export function sessionCookieOf(setCookies: string[]): string | null {
  return setCookies.find((c) => /^(__Secure-)?cm\.session_token=/.test(c) && !/=$/.test(c)) ?? null;
}

export interface Person {
  email: string;
  cookie: string;
  /** The machine this person uses. */
  from: string;
}

export async function signUpFrom(base: string, from: string, email = uniqueEmail("user"), password = PASSWORD, headers?: Record<string, string>): Promise<ActionCall & { cookie: string | null }> {
  const r = await actionFrom(base, from, { page: "/sign-up", file: "actions/auth.ts", name: "signUpAction", args: [null, form({ name: "Test", email, password, next: "/" })], headers });
  return { ...r, cookie: sessionCookieOf(r.setCookies) };
}

export async function newPerson(base: string, email = uniqueEmail("user")): Promise<Person> {
  const from = freshAddress();
  const r = await signUpFrom(base, from, email);
  if (!r.cookie) throw new Error(`sign-up failed (${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return { email, cookie: r.cookie, from };
}

export async function signInFrom(base: string, from: string, email: string, password = PASSWORD, headers?: Record<string, string>): Promise<ActionCall & { cookie: string | null }> {
  const r = await actionFrom(base, from, { page: "/sign-in", file: "actions/auth.ts", name: "signInAction", args: [null, form({ email, password, next: "/" })], headers });
  return { ...r, cookie: sessionCookieOf(r.setCookies) };
}

export async function createOrgAs(base: string, p: Person, slug = uniqueSlug("acct")): Promise<string> {
  const r = await actionFrom(base, p.from, { page: "/orgs/new", file: "actions/auth.ts", name: "createOrganizationAction", args: [null, form({ name: `Org ${slug}`, slug })], cookie: p.cookie });
  if (!r.redirect?.startsWith(`/orgs/${slug}`)) throw new Error(`create organization failed (${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return slug;
}

/** A members-page action (actions/members.ts) as `p`. */
export function membersAction(base: string, p: Person, org: string, name: string, args: unknown[]) {
  return actionFrom(base, p.from, { page: `/orgs/${org}/settings/members`, file: "actions/members.ts", name, args, cookie: p.cookie });
}

/** An API-keys-page action (actions/api-keys.ts) as `p`. */
export function keysAction(base: string, p: Person, org: string, name: string, args: unknown[]) {
  return actionFrom(base, p.from, { page: `/orgs/${org}/settings/api-keys`, file: "actions/api-keys.ts", name, args, cookie: p.cookie });
}

/** Invite as `p`: the invitation's database id, its link token (`<id>.<mac>`: /invite/<token>) and how it was mailed. */
export async function inviteAs(base: string, p: Person, org: string, email: string, role: "admin" | "viewer"): Promise<{ id: string; token: string; mail: string }> {
  const r = await membersAction(base, p, org, "inviteMemberAction", [org, { email, role }]);
  if (!r.value?.ok) throw new Error(`invite failed (${r.status}): ${JSON.stringify(r.value ?? r.text.slice(0, 300))}`);
  return { id: r.value.data.id as string, token: r.value.data.token as string, mail: r.value.data.mail as string };
}

/** Accept the invitation of link /invite/<token> as `p`. */
export async function acceptAs(base: string, p: Person, token: string): Promise<ActionCall> {
  return actionFrom(base, p.from, { page: `/invite/${token}`, file: "actions/auth.ts", name: "acceptInvitationAction", args: [token], cookie: p.cookie });
}

/** Members of an org as the owner sees them (with member ids). */
export async function membersOf(base: string, owner: Person, org: string): Promise<Array<{ id: string; email: string; role: string }>> {
  const r = await membersAction(base, owner, org, "listMembersAction", [org]);
  return r.value.data.members;
}

export async function restWithKey(base: string, p: string, key: string): Promise<number> {
  const r = await fetch(`${base}${p}`, { headers: { "x-api-key": key } });
  await r.text();
  return r.status;
}

// ------------------------------------------------------------------ a real SMTP server

export { decodeQuotedPrintable, type CapturedMail } from "../fakes/smtp";

/** An SMTP server on 127.0.0.1 that accepts everything (no TLS, no auth) and keeps each message (tests/fakes/smtp.ts). */
export const startSmtpCapture = () => startSmtpFake();

/** The first link in a message that matches. */
export function linkIn(raw: string, re: RegExp): string | null {
  const m = raw.match(re);
  return m ? m[0] : null;
}

export { waitFor } from "../support/wait";

/** Every file under a directory, recursively (for data-file leak scans). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}
