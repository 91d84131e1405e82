import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { startGcpFake, type GcpFake } from "@/tests/fakes/gcp";
import { makeServiceAccountKey } from "@/tests/fakes/gcp-keys";
import { FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE } from "@/tests/fakes/keys";
import { COMMANDS } from "../cli/commands";
import type { Io } from "../cli/run";
import { AppError } from "../errors";
import { smokeTestProvider } from "./smoke-test-provider";

/** `integrations smoke`: one real connection test, every check printed, nothing stored, no secret shown. */
let openai: OpenAIFake;
let gcp: GcpFake;
let core: TestCore;
let dir: string;

beforeAll(async () => {
  [openai, gcp] = await Promise.all([startOpenAIFake(), startGcpFake()]);
  core = await makeCore({
    env: { OPENAI_API_BASE: openai.url, GOOGLE_OAUTH_TOKEN_URL: gcp.tokenUrl, GOOGLE_CRM_API_BASE: gcp.crmApiBase, GOOGLE_BIGQUERY_API_BASE: gcp.bigqueryApiBase },
  });
  core.clock.t = Date.now();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-smoke-"));
});
afterAll(async () => {
  await core.close();
  await Promise.all([openai.close(), gcp.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

async function cli(argv: Record<string, string | undefined>, provider: string) {
  const command = COMMANDS.find((c) => c.name === "integrations smoke")!;
  const out: { human?: string; data?: unknown } = {};
  const io: Io = {
    async result(human, data) {
      out.human = human;
      out.data = data;
    },
    progress() {},
    note() {},
  };
  const code = await command.run({
    args: { provider },
    option: (n) => argv[n],
    flag: () => false,
    json: false,
    deps: core.deps,
    actor: SYSTEM_ACTOR,
    io,
  });
  return { code, ...out };
}

describe("integrations smoke", () => {
  it("prints each check and the verdict, exits 0 for a working key, stores nothing, never prints the key", async () => {
    const puts = core.store.calls.put;
    const r = await cli({ "credential-file": file("openai.json", { api_key: FAKE_OPENAI_ADMIN_KEY }) }, "openai");
    expect(r.code).toBe(0);
    expect(r.human).toMatch(/^OpenAI \(openai\): ok → would be active; fingerprint [0-9a-f]{8}/);
    expect(r.human).toMatch(/PASS authenticate/);
    expect(r.human).toMatch(/PASS read_costs/);
    expect(r.human).toMatch(/Nothing was stored\./);
    expect(r.human).not.toContain(FAKE_OPENAI_ADMIN_KEY);
    expect(JSON.stringify(r.data)).not.toContain(FAKE_OPENAI_ADMIN_KEY);
    expect(core.store.calls.put).toBe(puts);
    expect(openai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${FAKE_OPENAI_ADMIN_KEY}`);
  });

  it("a failing check is printed with its message and exits 1", async () => {
    const r = await cli({ "credential-file": file("noscope.json", { api_key: FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE }) }, "openai");
    expect(r.code).toBe(1);
    expect(r.human).toMatch(/FAIL read_costs\tpermission_denied/);
    expect(r.human).toMatch(/api\.usage\.read/);
    expect(r.human).not.toContain(FAKE_OPENAI_ADMIN_KEY_NO_USAGE_SCOPE);
  });

  it("takes a GCP key file as downloaded and the metadata file; the format check runs first", async () => {
    const sa = makeServiceAccountKey({ projectId: "smoke-proj-01" });
    gcp.registerServiceAccount({ email: sa.keyFile.client_email, keyId: sa.keyFile.private_key_id, publicKey: sa.publicKey, projectId: "smoke-proj-01", permissions: ["bigquery.jobs.create"] });
    const table = "smoke-proj-01.billing.gcp_billing_export_v1_012345_6789AB_CDEF01";
    gcp.registerTable(table);
    const r = await cli({ "credential-file": file("key.json", sa.keyFile), "metadata-file": file("meta.json", { billing_export_table: table }) }, "gcp");
    expect(r.code).toBe(1);
    expect(r.human).toMatch(/FAIL read_costs\tpermission_denied/);
    expect(r.human).toMatch(/bigquery\.tables\.getData/);
    expect(r.human).not.toContain("PRIVATE KEY");

    const bad = await smokeTestProvider({ actor: SYSTEM_ACTOR, provider: "openai", credentialText: '{"api_key":"nope-sk-secret"}' }, core.deps).catch((e) => e as AppError);
    expect(bad).toBeInstanceOf(AppError);
    expect((bad as AppError).code).toBe("invalid_format");
    expect((bad as AppError).message).not.toContain("nope-sk-secret");
    const notJson = await smokeTestProvider({ actor: SYSTEM_ACTOR, provider: "openai", credentialText: "sk-admin-oops" }, core.deps).catch((e) => e as AppError);
    expect((notJson as AppError).message).toBe("The credential file is not valid JSON.");
  });

  it("is an operator command: no other actor may run it", async () => {
    const actor = await core.addOrg("acme");
    const e = await smokeTestProvider({ actor, provider: "openai", credentialText: "{}" }, core.deps).catch((x) => x as AppError);
    expect((e as AppError).code).toBe("forbidden");
  });
});
