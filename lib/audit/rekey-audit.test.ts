import crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeCore, type TestCore } from "@/tests/support/core-deps";
import type { Actor } from "../auth/actor";
import { COMMANDS } from "../cli/commands";
import { parseCommandLine, type Io } from "../cli/run";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { CipherError } from "../kms/cipher";
import type { AuditStore } from "./audit-store";
import type { AuditEvent } from "./events";
import { listAuditEvents } from "./list-audit-events";

/**
 * credential.rekey: `kms rotate` run through the CLI's own command rows (lib/cli/commands.ts, with
 * the CLI's actor) records one event per credential it re-encrypted or failed to, in the org of
 * that credential, written per org in batches; a dry run, a second run with nothing left to do and
 * rows changed meanwhile record nothing; the chain still verifies (`audit verify`, same rows).
 */
const CLI: Actor = { kind: "system", name: "cli" };

let core: TestCore;
let appendCalls: number[];

beforeEach(async () => {
  core = await makeCore();
  // Count the audit store's transactions: each appendMany call is one.
  appendCalls = [];
  const real = core.deps.audit.store;
  const counted: AuditStore = Object.assign(Object.create(real) as AuditStore, {
    appendMany: (es: AuditEvent[]) => {
      appendCalls.push(es.length);
      return real.appendMany(es);
    },
  });
  core.deps = { ...core.deps, audit: { ...core.deps.audit, store: counted } };
  for (const org of ["alpha", "beta", "gamma"]) await core.addOrg(org);
});

afterEach(async () => {
  await core.close();
});

/** Stores n manual entries for the org directly (as the setup use case would), under the current primary key; returns provider → fingerprint. */
async function seed(org: string, n: number): Promise<Map<string, string>> {
  const fps = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const provider = `saas_vendor-${String(i).padStart(4, "0")}`;
    const credential = { display_name: `Vendor ${i}`, api_key: `cnry-rekey-${crypto.randomBytes(8).toString("hex")}` };
    const credentialId = crypto.randomUUID();
    const enc = await core.raw.cipher.encrypt(Buffer.from(JSON.stringify(credential)), { org, provider, credentialId });
    const fp = fingerprintOf(canonicalize(credential), core.deps.pepper);
    const at = new Date(core.clock.t).toISOString();
    await core.raw.store.put(
      { org, provider, credentialId, ciphertext: enc.ciphertext, keyRef: enc.keyRef, keyVersion: enc.keyVersion, fingerprint: fp, status: "active", keyKind: "manual", metadata: {}, account: null, version: 1, createdAt: at, updatedAt: at, lastValidatedAt: null, lastError: null },
      null,
    );
    fps.set(provider, fp);
  }
  return fps;
}

/** Runs a CLI command line in this process, as lib/cli/index.ts does: returns the exit code and the --json result. */
async function cli(...argv: string[]): Promise<{ code: number; result: unknown }> {
  const parsed = parseCommandLine(COMMANDS, [...argv, "--json"]);
  if (parsed === "help") throw new Error("help");
  let result: unknown;
  const io: Io = { result: async (_h, data) => void (result = data), progress: () => {}, note: () => {} };
  const values = parsed.values;
  const code = await parsed.command.run({
    args: parsed.args,
    option: (n) => (typeof values[n] === "string" ? values[n] : undefined),
    flag: (n) => values[n] === true,
    json: true,
    deps: core.deps,
    actor: CLI,
    io,
  });
  return { code, result };
}

/** A setup replacing the row (version 2, a new credential id), as a concurrent request would. */
async function replace(org: string, provider: string): Promise<void> {
  const row = (await core.raw.store.get(org, provider))!;
  await core.raw.store.put({ ...row, credentialId: crypto.randomUUID(), version: row.version + 1 }, row.version);
}

const rekeys = async (org: string): Promise<AuditEvent[]> =>
  (await listAuditEvents({ actor: CLI, org, query: { limit: 500, action: "credential.rekey" } }, core.deps)).events;

describe("kms rotate records credential.rekey", () => {
  it("one event per re-encrypted credential in its org (fingerprint unchanged, key versions as target), batched per org; dry run and a second run record nothing", async () => {
    const alpha = await seed("alpha", 3);
    const beta = await seed("beta", 2);
    const before = await core.deps.cipher.primaryKeyVersion();

    expect((await cli("kms", "rotate", "--dry-run", "--new-key")).result).toMatchObject({ dry_run: true, rotated: 0, already_current: 5 });
    expect(await rekeys("alpha")).toEqual([]);

    appendCalls.length = 0;
    const run = await cli("kms", "rotate", "--new-key");
    expect(run.code).toBe(0);
    const after = await core.deps.cipher.primaryKeyVersion();
    expect(after).not.toBe(before);
    expect(run.result).toMatchObject({ rotated: 5, failed: [], primary: after });
    expect(appendCalls).toEqual([3, 2]); // one transaction per org

    const a = await rekeys("alpha");
    expect(a.map((e) => [e.provider, e.fingerprint_before, e.fingerprint_after, e.outcome, e.target])).toEqual(
      [...alpha.entries()].reverse().map(([p, fp]) => [p, fp, fp, "ok", `${before} → ${after}`]),
    );
    const b = await rekeys("beta");
    expect(b.map((e) => [e.provider, e.fingerprint_after])).toEqual([...beta.entries()].reverse());
    for (const e of [...a, ...b]) expect(e).toMatchObject({ actor: { type: "cli", id: expect.stringContaining("@") }, action: "credential.rekey", client_ip: null });
    expect(new Set([...a, ...b].map((e) => e.request_id)).size).toBe(1); // one run, one request id
    expect(await rekeys("gamma")).toEqual([]); // no credentials, no event
    expect(JSON.stringify([...a, ...b])).not.toContain("cnry-rekey");

    // Resumed or repeated: everything is current, nothing more is recorded.
    appendCalls.length = 0;
    expect((await cli("kms", "rotate")).result).toMatchObject({ rotated: 0, already_current: 5 });
    expect(appendCalls).toEqual([]);
    expect(await rekeys("alpha")).toHaveLength(3);

    const verify = await cli("audit", "verify");
    expect(verify.code).toBe(0);
    expect(verify.result).toMatchObject({ ok: true, orgs: expect.arrayContaining([{ org: "alpha", ok: true, events: 4, first_broken: null }]) });
  });

  it("a credential that fails is recorded with the error code; one changed meanwhile is not; large orgs are written in batches of 100", async () => {
    await seed("alpha", 250);
    await seed("beta", 2);
    const before = await core.deps.cipher.primaryKeyVersion();
    core.cipher.hooks.beforeDecrypt = (ctx) => {
      if (ctx.org === "beta" && ctx.provider === "saas_vendor-0000") throw new CipherError("decrypt_failed", "altered");
      // A concurrent replacement of alpha's first row between the rotation's read and its write.
      if (ctx.org === "alpha" && ctx.provider === "saas_vendor-0000") return replace("alpha", ctx.provider);
    };
    appendCalls.length = 0;
    const run = await cli("kms", "rotate", "--new-key");
    const after = await core.deps.cipher.primaryKeyVersion();
    expect(run.code).toBe(1);
    expect(run.result).toMatchObject({ rotated: 250, skipped_changed: 1, failed: [{ org: "beta", provider: "saas_vendor-0000", code: "encryption_unavailable" }] });
    expect(appendCalls).toEqual([100, 100, 49, 2]);

    const a = await rekeys("alpha");
    expect(a).toHaveLength(249);
    expect(a.map((e) => e.provider)).not.toContain("saas_vendor-0000");
    const b = await rekeys("beta");
    expect(b.map((e) => [e.provider, e.outcome, e.target])).toEqual([
      ["saas_vendor-0001", "ok", `${before} → ${after}`],
      ["saas_vendor-0000", "encryption_unavailable", `${before} → ${after}`],
    ]);
    expect((await cli("audit", "verify")).code).toBe(0);
  });
});
