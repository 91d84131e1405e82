import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { createDeps, type CoreDeps } from "@/lib/deps";
import { createOrganization } from "@/lib/auth/organizations";
import { canonicalize, fingerprintOf } from "@/lib/kms/fingerprint";
import { ROOT, runCli, runCliAsync } from "../support/stack";

/** `kms rotate` on 1,000 credentials, killed half way and run again: nothing lost, all on the new key. */
function depsFor(dataDir: string): CoreDeps {
  return createDeps(parseEnv({ DATA_DIR: dataDir, LOG_LEVEL: "silent" }), { log: pino({ level: "silent" }) });
}

async function seed(deps: CoreDeps, org: string, n: number): Promise<Map<string, string>> {
  const fingerprints = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const provider = `saas_vendor-${String(i).padStart(4, "0")}`;
    const credential = { display_name: `Vendor ${i}`, api_key: `secret-${crypto.randomBytes(8).toString("hex")}` };
    const credentialId = crypto.randomUUID();
    const enc = await deps.cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org, provider, credentialId });
    const fp = fingerprintOf(canonicalize(credential), deps.pepper);
    const at = new Date().toISOString();
    await deps.store.put(
      { org, provider, credentialId, ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion, fingerprint: fp, status: "active", keyKind: "manual", metadata: {}, account: null, version: 1, createdAt: at, updatedAt: at, lastValidatedAt: null, lastError: null },
      null,
    );
    fingerprints.set(provider, fp);
  }
  return fingerprints;
}

async function allRows(deps: CoreDeps) {
  const rows = [];
  let after: { org: string; provider: string } | undefined;
  for (;;) {
    const page = await deps.store.listPage({ after, limit: 500 });
    if (!page.length) break;
    rows.push(...page);
    after = { org: page.at(-1)!.org, provider: page.at(-1)!.provider };
  }
  return rows;
}

describe("kms rotate", () => {
  it("re-encrypts 1,000 credentials under a new key version, survives being killed half way, loses nothing", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-rotate-"));
    let deps = depsFor(dataDir);
    await createOrganization({ actor: { kind: "system", name: "test" }, slug: "rot" }, deps);
    const fingerprints = await seed(deps, "rot", 1000);
    const oldVersion = await deps.cipher.primaryKeyVersion();
    await deps.store.close();
    await deps.auth.close();

    const dry = runCli(dataDir, ["kms", "rotate", "--dry-run", "--json"]);
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, total: 1000, already_current: 1000, rotated: 0 });

    // First run: add a key version and start re-encrypting; kill it part way through.
    const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "lib/cli/index.ts"), "kms", "rotate", "--new-key"], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    await new Promise<void>((resolve) => {
      child.stderr.on("data", (d: Buffer) => {
        const m = /\[(\d+)\/1000\]/.exec(d.toString());
        if (m && Number(m[1]) >= 300) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", () => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r));

    deps = depsFor(dataDir);
    const newVersion = await deps.cipher.primaryKeyVersion();
    expect(newVersion).not.toBe(oldVersion);
    const mid = await allRows(deps);
    const onNew = mid.filter((r) => r.keyVersion === newVersion).length;
    expect(onNew).toBeGreaterThan(0);
    expect(onNew).toBeLessThan(1000);
    await deps.store.close();
    await deps.auth.close();

    // Second run resumes and completes.
    const again = runCli(dataDir, ["kms", "rotate", "--json"]);
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report).toMatchObject({ total: 1000, primary: newVersion, failed: [] });
    expect(report.rotated + report.already_current).toBe(1000);
    expect(report.rotated).toBe(1000 - onNew);

    deps = depsFor(dataDir);
    const rows = await allRows(deps);
    expect(rows).toHaveLength(1000);
    for (const r of rows) {
      expect(r.keyVersion).toBe(newVersion);
      expect(r.version).toBe(1);
      const { plaintext } = await deps.cipher.decrypt(r.ciphertext, { org: r.org, provider: r.provider, credentialId: r.credentialId });
      expect(fingerprintOf(canonicalize(JSON.parse(plaintext.toString())), deps.pepper)).toBe(fingerprints.get(r.provider));
    }
    const status = runCli(dataDir, ["kms", "status", "--json"]);
    expect(JSON.parse(status.stdout).versions).toEqual([{ key_version: newVersion, credentials: 1000, primary: true }]);
    // Audited: one credential.rekey per credential, in batches of 100 per org, so the killed run
    // lost at most its last unwritten batch; the second run recorded every row it re-encrypted.
    const rekeys = (await deps.audit.store.list("rot", { limit: 2000, action: "credential.rekey" })).filter((e) => e.outcome === "ok");
    expect(rekeys.length).toBeGreaterThanOrEqual(1000 - 100);
    expect(rekeys.length).toBeLessThanOrEqual(1000);
    const runs = new Map<string, number>();
    for (const e of rekeys) runs.set(e.request_id, (runs.get(e.request_id) ?? 0) + 1);
    expect(runs.size).toBeLessThanOrEqual(2); // one request id per run
    expect([...runs.values()]).toContain(report.rotated);
    for (const e of rekeys) {
      expect(e.fingerprint_before).toBe(fingerprints.get(e.provider!));
      expect(e).toMatchObject({ actor: { type: "cli" }, fingerprint_after: e.fingerprint_before, target: `${oldVersion} → ${newVersion}` });
    }
    const verify = runCli(dataDir, ["audit", "verify", "--org", "rot", "--json"]);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    // The old key can now be retired; a key still in use cannot.
    expect(runCli(dataDir, ["kms", "retire", newVersion]).status).toBe(1);
    expect(runCli(dataDir, ["kms", "retire", oldVersion]).status).toBe(0);
    await deps.store.close();
    await deps.auth.close();
  }, 180_000);
});

describe("integrations validate-all", () => {
  it("re-tests every stored credential, records the verdicts, and exits 1 when one became invalid", async () => {
    const { startOpenAIFake } = await import("../fakes/openai");
    const K = await import("../fakes/keys");
    const fake = await startOpenAIFake();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-validate-all-"));
    try {
      const deps = depsFor(dataDir);
      await createOrganization({ actor: { kind: "system", name: "test" }, slug: "va" }, deps);
      const fingerprints = await seed(deps, "va", 3); // manual entries: nothing to test remotely
      // A key that worked once and that OpenAI now rejects (stored directly, as if revoked since).
      const credential = { api_key: K.FAKE_OPENAI_INVALID_KEY };
      const credentialId = crypto.randomUUID();
      const enc = await deps.cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org: "va", provider: "openai", credentialId });
      const at = new Date().toISOString();
      await deps.store.put(
        { org: "va", provider: "openai", credentialId, ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion, fingerprint: fingerprintOf(canonicalize(credential), deps.pepper), status: "active", keyKind: "admin", metadata: {}, account: null, version: 1, createdAt: at, updatedAt: at, lastValidatedAt: at, lastError: null },
        null,
      );
      await deps.store.close();
      await deps.auth.close();

      const r = await runCliAsync(dataDir, ["integrations", "validate-all", "--json"], { OPENAI_API_BASE: fake.url, CONNECTION_TEST_TIMEOUT_MS: "3000" });
      expect(r.status, r.stderr + r.stdout).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.results).toHaveLength(4);
      expect(out.invalid_or_expired).toBe(1);
      expect(out.results.find((x: { provider: string }) => x.provider === "openai")).toMatchObject({ status: "invalid", outcome: "auth_failed" });
      expect(r.stderr).toMatch(/\[4\/4\]/); // progress
      expect(r.stdout + r.stderr).not.toContain(K.FAKE_OPENAI_INVALID_KEY);

      const after = depsFor(dataDir);
      const row = await after.store.get("va", "openai");
      expect(row).toMatchObject({ status: "invalid", lastError: { code: "auth_failed" } });
      expect(fingerprints.size).toBe(3);
      await after.store.close();
      await after.auth.close();

      // Only one org's credentials, all fine: exit 0.
      const ok = runCli(dataDir, ["integrations", "validate-all", "--org", "nobody", "--json"]);
      expect(ok.status).toBe(0);
      expect(JSON.parse(ok.stdout).results).toEqual([]);
    } finally {
      await fake.close();
    }
  }, 60_000);
});

/** Run the CLI with its stdout closed before it writes (like `| head -0`, or a `| jq` that failed). */
function runCliStdoutClosed(dataDir: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "lib/cli/index.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy(); // our end of the pipe is gone: the CLI's writes fail with EPIPE
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("output", () => {
  it("with --json, stdout is exactly one JSON document, even with debug logging on", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-cli-json-"));
    const created = runCli(dataDir, ["orgs", "create", "jsonly", "--json"], { LOG_LEVEL: "debug" });
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(created.stdout)).toMatchObject({ org: "jsonly", api_key: expect.stringMatching(/^cmk_/), key_id: expect.any(String) });
    for (const args of [["orgs", "list"], ["keys", "list", "jsonly"], ["kms", "status"], ["integrations", "validate-all"]]) {
      const r = runCli(dataDir, [...args, "--json"], { LOG_LEVEL: "debug" });
      expect(r.status, r.stderr).toBe(0);
      expect(() => JSON.parse(r.stdout), `${args.join(" ")}: ${r.stdout}`).not.toThrow();
      expect(r.stdout.trim().split("\n")).toHaveLength(1);
    }
  }, 60_000);

  it("usage errors name the problem on stderr and exit 2; the usage text is the table's", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-cli-usage-"));
    const r = runCli(dataDir, ["keys", "create", "acme", "--role", "root"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--role must be one of admin/);
    expect(r.stderr).toContain("orgs create <slug> [--name NAME] [--json]");
    const help = runCli(dataDir, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("kms retire <key-version>");
  }, 30_000);

  it("a closed stdout (EPIPE) ends the run quietly, and orgs create's key is not lost: it goes to stderr", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-cli-epipe-"));
    const listed = await runCliStdoutClosed(dataDir, ["orgs", "list", "--json"]);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);

    const created = await runCliStdoutClosed(dataDir, ["orgs", "create", "piped", "--json"]);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stderr).not.toMatch(/\n\s+at /);
    const shown = /\{"org":"piped".*\}/.exec(created.stderr);
    expect(shown, created.stderr).not.toBeNull();
    const { api_key } = JSON.parse(shown![0]) as { api_key: string };
    const deps = depsFor(dataDir);
    try {
      expect(await deps.auth.verifyApiKey(api_key, new Date())).toMatchObject({ org: "piped", role: "admin" });
    } finally {
      await deps.store.close();
      await deps.auth.close();
    }
  }, 30_000);
});
