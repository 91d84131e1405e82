import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it, inject } from "vitest";
import { api, uniqueOrg } from "../support/api";
import { controlFakes, createOrg } from "../support/stack";
import * as K from "../fakes/keys";
import { waitFor } from "../support/wait";

/**
 * A canary secret goes through every endpoint, on success and failure paths; afterwards it must
 * not appear in any response, in the server's log, or in any file under DATA_DIR.
 */
function forms(secret: string): string[] {
  return [
    secret,
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    Buffer.from(secret).toString("hex"),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
  ];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe("no secret in logs, responses or data files", () => {
  it("a canary uploaded through every endpoint never leaks", async () => {
    const dataDir = inject("dataDir");
    const org = uniqueOrg("leak");
    const c = api(createOrg(dataDir, org));
    const canary = `CANARY${crypto.randomBytes(12).toString("hex")}`;
    const secrets = [canary, K.FAKE_OPENAI_ADMIN_KEY, K.FAKE_ANTHROPIC_ADMIN_KEY, K.FAKE_GEMINI_KEY, K.FAKE_OPENAI_PROJECT_KEY];
    const responses: string[] = [];
    const keep = <R extends { text: string; headers: Headers }>(r: R): R => {
      responses.push(r.text, JSON.stringify([...r.headers.entries()]));
      return r;
    };
    const base = `/integrations/${org}`;

    // Successes.
    expect(keep(await c.post(`${base}/openai/setup`, { credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    expect(keep(await c.post(`${base}/anthropic/setup`, { credential: { api_key: K.FAKE_ANTHROPIC_ADMIN_KEY } })).status).toBe(201);
    expect(keep(await c.post(`${base}/gemini/setup`, { credential: { api_key: K.FAKE_GEMINI_KEY } })).status).toBe(201);
    expect(keep(await c.post(`${base}/saas_vendor/setup`, { credential: { display_name: "Vendor", api_key: `sk-${canary}` } })).status).toBe(201);
    for (const p of ["openai", "anthropic", "gemini", "saas_vendor"]) keep(await c.post(`${base}/${p}/validate`));
    keep(await c.get(base));
    keep(await c.put(`${base}/openai/metadata`, { metadata: { label: "leak test" } }));

    // Failures: format, unknown fields, broken JSON, rejected by the provider, wrong org, no auth.
    const failures = [
      c.post(`${base}/openai/setup`, { credential: { api_key: `sk-admin-${canary} with spaces` } }),
      c.post(`${base}/openai/setup`, { credential: { api_key: 42, apikey: canary } }),
      c.post(`${base}/anthropic/setup`, { credential: { api_key: `sk-ant-oat01-${canary}` } }),
      c.post(`${base}/gemini/setup`, { credential: { api_key: `AIza${canary}` } }),
      c.post(`${base}/gcp/setup`, { credential: { service_account_json: `{"type":"service_account","private_key":"${canary}` } }),
      c.post(`${base}/gcp/setup`, { credential: { service_account_json: { type: "service_account", private_key: canary, client_email: "x@y.iam.gserviceaccount.com" } } }),
      c.post(`${base}/gcp/setup`, { credential: { service_account_json: `${canary}` } }),
      c.postRaw(`${base}/openai/setup`, `{"credential":{"api_key":"${canary}`),
      c.postRaw(`${base}/openai/setup`, `${canary}`),
      c.post(`${base}/openai/setup`, { credential: { api_key: K.FAKE_OPENAI_PROJECT_KEY } }),
      c.post(`${base}/openai/setup`, { credential: { api_key: K.FAKE_OPENAI_INVALID_KEY } }),
      c.post(`${base}/aws_keys/setup`, { credential: { access_key_id: "AKIAABCDEFGHIJKLMNOP", secret_access_key: `${canary}AAAAAAAAAAAAAAAAAA` } }),
      c.post(`${base}/azure/setup`, { credential: { tenant_id: "t", client_id: "x", client_secret: canary, subscription_id: "y" } }),
      c.post(`${base}/oci/setup`, { credential: { private_key: `-----BEGIN PRIVATE KEY-----\n${canary}` } }),
      c.post(`${base}/openai/setup`, { credential: { api_key: `sk-admin-${canary}` }, metadata: { label: 5 } }),
      c.post(`/integrations/someone-else/openai/setup`, { credential: { api_key: `sk-admin-${canary}` } }),
      api().post(`${base}/openai/setup`, { credential: { api_key: `sk-admin-${canary}` } }),
      api(canary).post(`${base}/openai/setup`, { credential: { api_key: `sk-admin-${canary}` } }),
      c.post(`${base}/openai/setup`, { credential: { api_key: `sk-admin-${canary}` }, metadata: { label: "x".repeat(70_000) } }),
    ];
    for (const r of await Promise.all(failures)) {
      keep(r);
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
    keep(await c.del(`${base}/openai`));

    // The server's log is written by another process: wait for this org's lines.
    const log = await waitFor(() => {
      const text = fs.readFileSync(inject("logFile"), "utf8");
      return text.includes(`"org":"${org}"`) && /"fingerprint":"[0-9a-f]{8}"/.test(text) && text;
    }, "this org's request lines in the server log");
    expect(log).toContain(`"org":"${org}"`);
    expect(log).toMatch(/"fingerprint":"[0-9a-f]{8}"/);

    const haystacks: Array<[string, string]> = [
      ["responses", responses.join("\n")],
      ["server log", log],
      ...filesUnder(dataDir).map((f) => [f, fs.readFileSync(f).toString("latin1")] as [string, string]),
    ];
    if (inject("backends") === "gcp") {
      // Everything the server sent to BigQuery, and every stored row.
      haystacks.push(["BigQuery requests and rows", JSON.stringify(await controlFakes(inject("ports").control, "/bigquery/dump"))]);
    }
    for (const secret of secrets) {
      for (const form of forms(secret)) {
        for (const [where, text] of haystacks) {
          expect(text.includes(form), `${where} contains a form of a secret`).toBe(false);
        }
      }
    }
    // The server log has exactly one line per request, each with a request id.
    const lines = log.split("\n").filter((l) => l.includes(`"org":"${org}"`) && l.includes('"msg":"request"'));
    expect(lines.length).toBeGreaterThanOrEqual(20);
    for (const l of lines) expect(JSON.parse(l).request_id).toBeTruthy();
  });
});
