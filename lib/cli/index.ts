/**
 * The command line (API.md): `npm run cli -- <command>`. Runs against the same DATA_DIR and
 * configuration as the server and calls the same core functions.
 *
 *   orgs create <slug> [--name "Acme"] [--json]
 *   orgs list [--json]
 *   keys create <org> --role admin|viewer [--label text] [--json]
 *   keys list <org> [--json]
 *   keys revoke <org> <key-id>
 *   integrations validate-all [--org <slug>] [--json]
 *   kms rotate [--dry-run] [--new-key] [--json]
 *   kms status [--json]
 *   kms retire <key-version>            (local key ring only)
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { getEnv } from "../env";
import { createLogger } from "../log";
import { AppError } from "../errors";
import type { Actor } from "../auth/actor";
import { createDeps, rotateEncryption, setDeps, validateIntegration, type CoreDeps } from "../integrations";
import { addKeyVersion, retireKeyVersion } from "../kms";
import { createOrganization, createOrgApiKey, listOrgApiKeys, revokeOrgApiKey } from "../auth/organizations";

const SYSTEM: Actor = { kind: "system", name: "cli" };

class UsageError extends Error {}

function usage(): string {
  return [
    "Usage: npm run cli -- <command>",
    "  orgs create <slug> [--name NAME] [--json]      create an organization and its first admin API key",
    "  orgs list [--json]",
    "  keys create <org> --role admin|viewer [--label TEXT] [--json]",
    "  keys list <org> [--json]",
    "  keys revoke <org> <key-id>",
    "  integrations validate-all [--org SLUG] [--json] re-test stored credentials; exit 1 if any is invalid or expired",
    "  kms rotate [--dry-run] [--new-key] [--json]     re-encrypt every credential under the primary key version",
    "                                                 (--new-key: first add a new local key version and make it primary)",
    "  kms status [--json]                            credentials per key version",
    "  kms retire <key-version>                       remove an old local key version once nothing uses it",
  ].join("\n");
}

function progress(done: number, total: number, label: string) {
  if (!process.stderr.isTTY) {
    process.stderr.write(`[${done}/${total}] ${label}\n`);
    return;
  }
  const width = 24;
  const filled = total ? Math.round((done / total) * width) : width;
  process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${label.padEnd(40).slice(0, 40)}`);
  if (done === total) process.stderr.write("\n");
}

async function main(argv: string[], deps: CoreDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      name: { type: "string" },
      role: { type: "string" },
      label: { type: "string" },
      org: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "new-key": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [group, command, ...rest] = positionals;
  const out = (human: string, data: unknown) => process.stdout.write(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
  if (values.help || !group) {
    process.stdout.write(`${usage()}\n`);
    return values.help ? 0 : 2;
  }

  if (group === "orgs" && command === "create") {
    const slug = rest[0];
    if (!slug) throw new UsageError("orgs create needs a slug");
    const r = await createOrganization({ actor: SYSTEM, slug, name: values.name }, deps);
    out(
      `Created organization ${r.org.slug}.\nAdmin API key (shown once, store it now): ${r.apiKey}\nKey id: ${r.keyId}`,
      { org: r.org.slug, api_key: r.apiKey, key_id: r.keyId },
    );
    return 0;
  }
  if (group === "orgs" && command === "list") {
    const orgs = (await deps.auth.listOrgs()).map((o) => ({ org: o.slug, name: o.name, created_at: o.createdAt }));
    out(orgs.map((o) => `${o.org}\t${o.name}`).join("\n") || "(no organizations)", { orgs });
    return 0;
  }
  if (group === "keys" && command === "create") {
    const org = rest[0];
    if (!org) throw new UsageError("keys create needs an org");
    if (values.role !== "admin" && values.role !== "viewer") throw new UsageError("--role must be admin or viewer");
    const r = await createOrgApiKey({ actor: SYSTEM, org, role: values.role, label: values.label }, deps);
    out(`API key (${r.key.role}, shown once): ${r.apiKey}\nKey id: ${r.key.id}`, { api_key: r.apiKey, key_id: r.key.id, role: r.key.role });
    return 0;
  }
  if (group === "keys" && command === "list") {
    const org = rest[0];
    if (!org) throw new UsageError("keys list needs an org");
    const keys = (await listOrgApiKeys({ actor: SYSTEM, org }, deps)).map((k) => ({
      key_id: k.id,
      role: k.role,
      label: k.label,
      created_at: k.createdAt,
      last_used_at: k.lastUsedAt,
      revoked_at: k.revokedAt,
    }));
    out(keys.map((k) => `${k.key_id}\t${k.role}\t${k.revoked_at ? "revoked" : "active"}\t${k.label ?? ""}`).join("\n") || "(no keys)", { keys });
    return 0;
  }
  if (group === "keys" && command === "revoke") {
    const [org, keyId] = rest;
    if (!org || !keyId) throw new UsageError("keys revoke needs an org and a key id");
    await revokeOrgApiKey({ actor: SYSTEM, org, keyId }, deps);
    out(`Revoked ${keyId}.`, { revoked: keyId });
    return 0;
  }
  if (group === "integrations" && command === "validate-all") {
    const targets: Array<{ org: string; provider: string }> = [];
    let after: { org: string; provider: string } | undefined;
    for (;;) {
      const page = await deps.store.listPage({ after, limit: 200 });
      if (page.length === 0) break;
      for (const r of page) if (!values.org || r.org === values.org) targets.push({ org: r.org, provider: r.provider });
      const last = page[page.length - 1]!;
      after = { org: last.org, provider: last.provider };
    }
    const results: Array<{ org: string; provider: string; status?: string; outcome?: string; error?: string }> = [];
    let bad = 0;
    for (const [i, t] of targets.entries()) {
      progress(i, targets.length, `${t.org}/${t.provider}`);
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await validateIntegration({ actor: SYSTEM, ...t }, deps);
          results.push({ ...t, status: r.integration.status, outcome: r.connection_test.outcome });
          if (r.integration.status === "invalid" || r.integration.status === "expired") bad++;
        } catch (e) {
          // Respect the provider's rate: wait as long as it (or the registry budget) asks, then retry.
          if (e instanceof AppError && e.code === "rate_limited" && attempt < 3) {
            const wait = e.extra.retryAfterS ?? 60;
            progress(i, targets.length, `${t.org}/${t.provider}: rate limited, waiting ${wait} s`);
            await new Promise((r) => setTimeout(r, wait * 1000));
            continue;
          }
          results.push({ ...t, error: e instanceof AppError ? e.code : "internal" });
        }
        break;
      }
    }
    progress(targets.length, targets.length, "done");
    out(
      results.map((r) => `${r.org}/${r.provider}\t${r.status ?? "unchanged"}\t${r.outcome ?? r.error}`).join("\n") || "(no integrations)",
      { results, invalid_or_expired: bad },
    );
    return bad > 0 ? 1 : 0;
  }
  if (group === "kms" && (command === "status" || command === "retire")) {
    const counts = new Map<string, number>();
    let after: { org: string; provider: string } | undefined;
    for (;;) {
      const page = await deps.store.listPage({ after, limit: 500 });
      if (page.length === 0) break;
      for (const r of page) counts.set(r.keyVersion, (counts.get(r.keyVersion) ?? 0) + 1);
      const last = page[page.length - 1]!;
      after = { org: last.org, provider: last.provider };
    }
    const primary = await deps.cipher.primaryKeyVersion();
    if (command === "status") {
      const versions = [...counts.entries()].map(([key_version, credentials]) => ({ key_version, credentials, primary: key_version === primary }));
      out(
        [`backend ${deps.cipher.backend}, primary ${primary}`, ...versions.map((v) => `${v.key_version}\t${v.credentials}${v.primary ? "\t(primary)" : ""}`)].join("\n"),
        { backend: deps.cipher.backend, primary, versions },
      );
      return 0;
    }
    const version = rest[0];
    if (!version) throw new UsageError("kms retire needs a key version");
    if (deps.cipher.backend !== "local") throw new UsageError("kms retire is for the local key ring; disable Cloud KMS versions in Google Cloud");
    const using = counts.get(version) ?? 0;
    if (using > 0) {
      process.stderr.write(`error: ${using} credential(s) still use ${version}; run kms rotate first\n`);
      return 1;
    }
    await retireKeyVersion(deps.env.dataDir, version);
    out(`Retired ${version}.`, { retired: version });
    return 0;
  }
  if (group === "kms" && command === "rotate") {
    if (values["new-key"]) {
      if (deps.cipher.backend !== "local") throw new UsageError("--new-key is for the local key ring; rotate Cloud KMS keys in Google Cloud");
      if (!values["dry-run"]) {
        const id = await addKeyVersion(deps.env.dataDir);
        process.stderr.write(`Added key version ${id} (now primary).\n`);
      }
    }
    const report = await rotateEncryption(
      { actor: SYSTEM, dryRun: values["dry-run"], onProgress: (done, total, row) => progress(done, total, row.org ? `${row.org}/${row.provider}` : "done") },
      deps,
    );
    out(
      `${report.dry_run ? "Would re-encrypt" : "Re-encrypted"} ${report.rotated} of ${report.total} credentials under ${report.primary}; ${report.already_current} already current, ${report.skipped_changed} changed meanwhile, ${report.failed.length} failed.`,
      report,
    );
    return report.failed.length ? 1 : 0;
  }
  throw new UsageError(`unknown command: ${[group, command].filter(Boolean).join(" ")}`);
}

async function cli() {
  let deps: CoreDeps | undefined;
  try {
    const env = getEnv();
    // Logs go to stderr so that --json output on stdout stays machine-readable.
    deps = createDeps(env, { log: createLogger(pino.destination(2)) });
    setDeps(deps);
    process.exitCode = await main(process.argv.slice(2), deps);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n\n${usage()}\n`);
      process.exitCode = 2;
    } else if (e instanceof AppError) {
      process.stderr.write(`error (${e.code}): ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    }
  } finally {
    await deps?.store.close().catch(() => {});
    await deps?.auth.close().catch(() => {});
  }
}

void cli();
