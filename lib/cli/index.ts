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
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { getEnv } from "../env";
import { createLogger } from "../log";
import { AppError } from "../errors";
import type { Actor } from "../auth/actor";
import { createDeps, setDeps, validateIntegration, type CoreDeps } from "../integrations";
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
    const orgs = deps.auth.listOrgs().map((o) => ({ org: o.slug, name: o.name, created_at: o.createdAt }));
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
      try {
        const r = await validateIntegration({ actor: SYSTEM, ...t }, deps);
        results.push({ ...t, status: r.integration.status, outcome: r.connection_test.outcome });
        if (r.integration.status === "invalid" || r.integration.status === "expired") bad++;
      } catch (e) {
        results.push({ ...t, error: e instanceof AppError ? e.code : "internal" });
      }
    }
    progress(targets.length, targets.length, "done");
    out(
      results.map((r) => `${r.org}/${r.provider}\t${r.status ?? "unchanged"}\t${r.outcome ?? r.error}`).join("\n") || "(no integrations)",
      { results, invalid_or_expired: bad },
    );
    return bad > 0 ? 1 : 0;
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
    deps?.auth.close();
  }
}

void cli();
