import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { baseUrl, callAction, createApiKey, createOrganization, rest, signIn, signUp, type Session } from "./support";
import { waitFor } from "../support/wait";

/**
 * "Defaults → Unexpected-error logs" (docs/security.md, issue 8 item 7): an error's message can
 * quote its input (V8's JSON.parse: `Unexpected token … "<the text>" is not valid JSON`; Node's
 * crypto and URL errors; Next's own error printer), so nothing the server writes to its log may
 * carry what a caller sent. As an attacker with a real session and a real API key, put a unique
 * canary in every place input can reach an error path, then read the server's log file: no canary
 * may be in it. The one line that legitimately names request input is the access line
 * (`msg: "request"`), whose `path`, `org` and `provider` fields are the URL path by design; those
 * fields alone are set aside. Canaries in secret positions (credential fields, passwords, API
 * keys, cookies) must not be in any response body either.
 */

const logFile = inject("logFile");

interface Vector {
  name: string;
  canary: string;
  /** In a secret position: it must not be in the response either. */
  secret: boolean;
}
const vectors: Vector[] = [];
const replies: Array<{ vector: Vector; status: number; text: string }> = [];

function canary(name: string, secret = true): string {
  const c = `CANARY${crypto.randomBytes(6).toString("hex")}`;
  vectors.push({ name, canary: c, secret });
  return c;
}

function record(vector: string, status: number, text: string) {
  const v = vectors.find((x) => x.name === vector);
  if (!v) throw new Error(`no vector ${vector}`);
  replies.push({ vector: v, status, text });
}

/** A raw request with node:http: the path and headers go out byte for byte. */
function raw(method: string, p: string, headers: Record<string, string>, body?: string | Buffer): Promise<{ status: number; text: string }> {
  const u = new URL(baseUrl());
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

let owner: Session;
let org: string;
let key: string;
let logStart = 0;

beforeAll(async () => {
  owner = await signUp();
  org = await createOrganization(owner);
  key = await createApiKey(owner, org);
  logStart = fs.statSync(logFile).size;
});

describe("no input reaches the server log through an error path", () => {
  it("a canary in every input position never appears in the log, nor (when secret) in a response", async () => {
    const pageOf = (provider: string) => `/orgs/${org}/integrations/${provider}`;

    // --- URL: query strings (never logged), and paths (only the access line's path/org/provider).
    {
      const c = canary("query on a REST route", false);
      const r = await rest("GET", `/integrations/${org}?filter=${c}&${c}=1`, { key });
      record("query on a REST route", r.status, r.text);
      const c2 = canary("query on a page", false);
      const p = await fetch(`${baseUrl()}/orgs/${org}?next=${c2}`, { headers: { cookie: owner.cookie } });
      record("query on a page", p.status, await p.text());
      const c3 = canary("org and provider in a REST path", false);
      const q = await rest("POST", `/integrations/${c3}/${c3}/setup`, { key, body: { credential: {} } });
      record("org and provider in a REST path", q.status, q.text);
      const c4 = canary("percent-encoded junk in a path", false);
      const s = await raw("GET", `/integrations/${org}/%E0%A4%A${c4}/setup-info`, { "x-api-key": key });
      record("percent-encoded junk in a path", s.status, s.text);
    }

    // --- Headers: wrong credentials and junk headers Next and the route wrapper parse.
    {
      const c = canary("X-API-Key");
      let r = await rest("GET", `/integrations/${org}`, { headers: { "x-api-key": `cm_${c}` } });
      record("X-API-Key", r.status, r.text);
      const c2 = canary("Authorization: Bearer");
      r = await rest("GET", `/integrations/${org}`, { headers: { authorization: `Bearer ${c2}` } });
      record("Authorization: Bearer", r.status, r.text);
      const c3 = canary("session cookie");
      const p = await fetch(`${baseUrl()}/orgs/${org}`, { headers: { cookie: `cm.session_token=${c3}.${c3}` }, redirect: "manual" });
      record("session cookie", p.status, await p.text());
      const c4 = canary("router-state header");
      const s = await raw("GET", `/orgs/${org}`, { cookie: owner.cookie, rsc: "1", "next-router-state-tree": encodeURIComponent(`["${c4}",{"children":["x",{}]}`) });
      record("router-state header", s.status, s.text);
      const c5 = canary("content-type charset and junk headers");
      r = await rest("POST", `/integrations/${org}/openai/setup`, {
        key,
        raw: "{}",
        headers: { "content-type": `application/json; charset=${c5}`, "x-forwarded-for": c5, "accept-language": c5, "x-request-id": `${c5}!` }, // refused by its format check: a fresh id is used
      });
      record("content-type charset and junk headers", r.status, r.text);
    }

    // --- Malformed and wrongly typed JSON bodies, with the canary where a credential sits.
    {
      const c = canary("truncated JSON body");
      let r = await rest("POST", `/integrations/${org}/openai/setup`, { key, raw: `{"credential":{"api_key":"${c}"` });
      record("truncated JSON body", r.status, r.text);
      const c2 = canary("JSON body with a trailing token");
      r = await rest("POST", `/integrations/${org}/openai/setup`, { key, raw: `{"credential":{"api_key":"sk-x"}} ${c2}` });
      record("JSON body with a trailing token", r.status, r.text);
      const c3 = canary("bare word body");
      r = await rest("PUT", `/integrations/${org}/openai/metadata`, { key, raw: `${c3}` });
      record("bare word body", r.status, r.text);
      const c4 = canary("credential of the wrong type");
      r = await rest("POST", `/integrations/${org}/openai/setup`, { key, body: { credential: c4 } });
      record("credential of the wrong type", r.status, r.text);
      const c5 = canary("credential field of the wrong type");
      r = await rest("POST", `/integrations/${org}/openai/setup`, { key, body: { credential: { api_key: [c5, { x: c5 }] } } });
      record("credential field of the wrong type", r.status, r.text);
      const c6 = canary("invalid UTF-8 in a JSON body");
      const s = await raw(
        "POST",
        `/integrations/${org}/openai/setup`,
        { "x-api-key": key, "content-type": "application/json" },
        Buffer.concat([Buffer.from(`{"credential":{"api_key":"${c6}`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`"}}`)]),
      );
      record("invalid UTF-8 in a JSON body", s.status, s.text);
    }

    // --- Credential fields of every shape: broken key file, PEM, client secret, AWS secret.
    {
      const c = canary("GCP key file broken right after the canary");
      let r = await rest("POST", `/integrations/${org}/gcp/setup`, {
        key,
        body: { credential: { service_account_json: `{"type":"service_account","private_key":"${c}",}` } },
      });
      record("GCP key file broken right after the canary", r.status, r.text);
      const c2 = canary("GCP key file with a canary PEM");
      const keyFile = JSON.stringify({
        type: "service_account",
        project_id: "p",
        private_key_id: "0".repeat(40),
        private_key: `-----BEGIN PRIVATE KEY-----\n${c2}\n-----END PRIVATE KEY-----\n`,
        client_email: "x@p.iam.gserviceaccount.com",
        client_id: "1",
        token_uri: "https://oauth2.googleapis.com/token",
      });
      r = await rest("POST", `/integrations/${org}/gcp/setup`, { key, body: { credential: { service_account_json: keyFile } } });
      record("GCP key file with a canary PEM", r.status, r.text);
      const c3 = canary("OCI PEM containing the canary");
      const oci = {
        tenancy_ocid: `ocid1.tenancy.oc1..${"a".repeat(60)}`,
        user_ocid: `ocid1.user.oc1..${"a".repeat(60)}`,
        fingerprint: Array.from({ length: 16 }, () => "ab").join(":"),
        region: "us-ashburn-1",
      };
      r = await rest("POST", `/integrations/${org}/oci/setup`, {
        key,
        body: { credential: { ...oci, private_key: `-----BEGIN RSA PRIVATE KEY-----\nMIIB${c3}AAAA\n-----END RSA PRIVATE KEY-----\n` } },
      });
      record("OCI PEM containing the canary", r.status, r.text);
      const c4 = canary("OCI passphrase and an encrypted PEM");
      r = await rest("POST", `/integrations/${org}/oci/setup`, {
        key,
        body: {
          credential: {
            ...oci,
            passphrase: c4,
            private_key: `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.from(`${c4}${c4}`).toString("base64")}\n-----END ENCRYPTED PRIVATE KEY-----\n`,
          },
        },
      });
      record("OCI passphrase and an encrypted PEM", r.status, r.text);
      const c5 = canary("Azure client secret");
      const azure = { tenant_id: crypto.randomUUID(), client_id: crypto.randomUUID(), subscription_id: crypto.randomUUID() };
      r = await rest("POST", `/integrations/${org}/azure/setup`, { key, body: { credential: { ...azure, client_secret: `${c5}~\u0000\n${c5}` } } });
      record("Azure client secret", r.status, r.text);
      const c6 = canary("AWS secret access key and session token");
      r = await rest("POST", `/integrations/${org}/aws_keys/setup`, {
        key,
        body: { credential: { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: `${c6}/${c6}`, session_token: `${c6}%%`, region: "us-east-1" } },
      });
      record("AWS secret access key and session token", r.status, r.text);
      const c7 = canary("OpenAI API key");
      r = await rest("POST", `/integrations/${org}/openai/setup`, { key, body: { credential: { api_key: `sk-admin-${c7}` } } });
      record("OpenAI API key", r.status, r.text);
    }

    // --- Metadata tag names and values (not secret: a tag may be echoed back as the field in error).
    {
      const c = canary("metadata tag names and values", false);
      let r = await rest("PUT", `/integrations/${org}/openai/metadata`, { key, body: { metadata: { tags: { [`${c} bad name`]: `${c}\u0000`, ok: { [c]: c } } } } });
      record("metadata tag names and values", r.status, r.text);
      const c2 = canary("metadata of the wrong type", false);
      r = await rest("PUT", `/integrations/${org}/openai/metadata`, { key, body: { metadata: [c2, 1, null] } });
      record("metadata of the wrong type", r.status, r.text);
    }

    // --- Server actions with a real session: well-formed, wrongly typed and undecodable payloads.
    {
      const setup = { page: pageOf("openai"), file: "actions/integrations.ts", name: "setupIntegrationAction", cookie: owner.cookie };
      const c = canary("setup action: GCP key file broken after the canary");
      let a = await callAction({ ...setup, page: pageOf("gcp"), args: [org, "gcp", { credential: { service_account_json: `{"private_key":"${c}"` } }] });
      record("setup action: GCP key file broken after the canary", a.status, a.text);
      const c2 = canary("setup action: OCI PEM");
      a = await callAction({
        ...setup,
        page: pageOf("oci"),
        args: [org, "oci", { credential: { private_key: `-----BEGIN PRIVATE KEY-----\n${c2}\n-----END PRIVATE KEY-----`, fingerprint: c2 } }],
      });
      record("setup action: OCI PEM", a.status, a.text);
      const c3 = canary("setup action: Azure client secret");
      a = await callAction({ ...setup, page: pageOf("azure"), args: [org, "azure", { credential: { client_secret: c3, tenant_id: 7 } }] });
      record("setup action: Azure client secret", a.status, a.text);
      const c4 = canary("setup action: truncated payload");
      a = await callAction({ ...setup, args: [], raw: { body: `["${org}","openai",{"credential":{"api_key":"${c4}"`, contentType: "text/plain;charset=UTF-8" } });
      record("setup action: truncated payload", a.status, a.text);
      const c5 = canary("setup action: undecodable references");
      a = await callAction({ ...setup, args: [], raw: { body: `["$Q${c5}","$@${c5}",{"credential":"$K${c5}"}]`, contentType: "text/plain;charset=UTF-8" } });
      record("setup action: undecodable references", a.status, a.text);
      const c6 = canary("setup action: multipart with a broken root row");
      const fd = new FormData();
      fd.append("_1_api_key", c6);
      fd.append("0", `["${org}","openai","$K1",{"x":"${c6}"`);
      a = await callAction({ ...setup, args: [], raw: { body: fd } });
      record("setup action: multipart with a broken root row", a.status, a.text);
      const c7 = canary("action id header");
      const s = await raw("POST", pageOf("openai"), { cookie: owner.cookie, "next-action": `${c7}${"0".repeat(20)}`, "content-type": "text/plain;charset=UTF-8", accept: "text/x-component", origin: baseUrl() }, `["${c7}"]`);
      record("action id header", s.status, s.text);
      const c8 = canary("metadata action: tags", false);
      a = await callAction({
        page: pageOf("openai"),
        file: "actions/integrations.ts",
        name: "updateIntegrationMetadataAction",
        cookie: owner.cookie,
        args: [org, "openai", { tags: { [c8]: [c8], [`${c8}\u0000`]: c8 } }],
      });
      record("metadata action: tags", a.status, a.text);
      const c9 = canary("API-key action: label of the wrong type", false);
      a = await callAction({ page: `/orgs/${org}/settings/api-keys`, file: "actions/api-keys.ts", name: "createApiKeyAction", cookie: owner.cookie, args: [org, { role: c9, label: { c9 } }] });
      record("API-key action: label of the wrong type", a.status, a.text);
    }

    // --- Multipart bodies: to a JSON route, malformed, and form actions with a password.
    {
      const c = canary("multipart body to a JSON route");
      const boundary = "----cm" + crypto.randomBytes(4).toString("hex");
      let s = await raw(
        "POST",
        `/integrations/${org}/openai/setup`,
        { "x-api-key": key, "content-type": `multipart/form-data; boundary=${boundary}` },
        `--${boundary}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n${c}\r\n--${boundary}--\r\n`,
      );
      record("multipart body to a JSON route", s.status, s.text);
      const c2 = canary("unterminated multipart action body");
      s = await raw(
        "POST",
        "/sign-in",
        { "next-action": "x", "content-type": `multipart/form-data; boundary=${boundary}`, accept: "text/x-component", origin: baseUrl() },
        `--${boundary}\r\nContent-Disposition: form-data; name="_1_password"\r\n\r\n${c2}\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${c2}"\r\n\r\n["$K1`,
      );
      record("unterminated multipart action body", s.status, s.text);
      const c3 = canary("sign-in password");
      const { reply } = await signIn(owner.email, c3);
      record("sign-in password", reply.status, reply.text);
      const c4 = canary("sign-up password");
      const fd = new FormData();
      fd.append("name", "Mallory");
      fd.append("email", `not-an-email-${crypto.randomBytes(3).toString("hex")}`);
      fd.append("password", c4);
      const a = await callAction({ page: "/sign-up", file: "actions/auth.ts", name: "signUpAction", args: [null, fd] });
      record("sign-up password", a.status, a.text);
    }

    // The server's log is written by another process: wait until the REST calls above have their
    // access lines (the log read is the server's).
    const lines = await waitFor(() => {
      const all = fs.readFileSync(logFile, "utf8").slice(logStart).split("\n").filter(Boolean);
      return all.filter((l) => l.includes('"msg":"request"')).length >= 15 && all;
    }, "15 request lines in the server log");

    // Not vacuous: an error path that prints an Error was reached (Next refusing the junk action
    // id, printed with console.warn, which lib/scripts/server.mjs's console guard writes as class name and frames only).
    expect(lines.some((l) => /"msg":"console\.(warn|error) from the framework/.test(l) && l.includes('"err_name":"Error"'))).toBe(true);

    const leaks: string[] = [];
    for (const line of lines) {
      let text = line;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (o && typeof o === "object" && o.msg === "request") {
          delete o.path;
          delete o.org;
          delete o.provider;
        }
        text = JSON.stringify(o);
      } catch {
        /* not JSON (Next's own printer): check it as written */
      }
      for (const v of vectors) if (text.includes(v.canary)) leaks.push(`${v.name}: ${line.slice(0, 400)}`);
    }
    expect(leaks, "log lines that quote input").toEqual([]);

    const echoed = replies.filter((r) => r.vector.secret && r.text.includes(r.vector.canary)).map((r) => `${r.vector.name} (${r.status}): ${r.text.slice(0, 300)}`);
    expect(echoed, "responses that echo a secret").toEqual([]);
    // Every vector was sent and answered.
    expect(new Set(replies.map((r) => r.vector.name)).size).toBe(vectors.length);
    expect(replies.every((r) => r.status > 0)).toBe(true);
  });
});
