import {
  addLocalKeyVersion,
  keyVersionStatus,
  retireLocalKeyVersion,
  rotateEncryption,
  smokeTestProvider,
  validateAllIntegrations,
} from "../integrations";
import fs from "node:fs";
import { createOrganization, createOrgApiKey, listOrgApiKeys, revokeOrgApiKey } from "../auth/organizations";
import { API_KEY_ROLES, type ApiKeyRole } from "../auth/auth-store";
import { UsageError, type Command } from "./run";
import { verifyAuditTrail } from "../audit/verify-audit-trail";

/**
 * Every CLI command: one row each, over one core use case (lib/integrations, lib/auth). The
 * usage text is generated from these rows (lib/cli/run.ts). A row parses nothing itself (the
 * runner checks positionals, required options and choices) and holds no domain rule: it calls the
 * use case and formats its answer for people (`human`) and for scripts (`--json`).
 */
export const COMMANDS: readonly Command[] = [
  {
    name: "orgs create",
    positionals: ["slug"],
    options: { name: { type: "string", value: "NAME" } },
    summary: "create an organization and its first admin API key (shown once)",
    async run({ args, option, deps, actor, io }) {
      const r = await createOrganization({ actor, slug: args.slug!, name: option("name") }, deps);
      // The key exists only in this answer: write it before anything else that could fail.
      await io.result(
        `Created organization ${r.org.slug}.\nAdmin API key (shown once, store it now): ${r.apiKey}\nKey id: ${r.keyId}`,
        { org: r.org.slug, api_key: r.apiKey, key_id: r.keyId },
        { secret: true },
      );
      return 0;
    },
  },
  {
    name: "orgs list",
    summary: "every organization",
    async run({ deps, io }) {
      const orgs = (await deps.auth.listOrgs()).map((o) => ({ org: o.slug, name: o.name, created_at: o.createdAt }));
      await io.result(orgs.map((o) => `${o.org}\t${o.name}`).join("\n") || "(no organizations)", { orgs });
      return 0;
    },
  },
  {
    name: "keys create",
    positionals: ["org"],
    options: { role: { type: "string", value: "ROLE", required: true, choices: API_KEY_ROLES }, label: { type: "string", value: "TEXT" } },
    summary: "create an org API key (shown once)",
    async run({ args, option, actor, deps, io }) {
      const r = await createOrgApiKey({ actor, org: args.org!, role: option("role") as ApiKeyRole, label: option("label") }, deps);
      await io.result(`API key (${r.key.role}, shown once): ${r.apiKey}\nKey id: ${r.key.id}`, { api_key: r.apiKey, key_id: r.key.id, role: r.key.role }, { secret: true });
      return 0;
    },
  },
  {
    name: "keys list",
    positionals: ["org"],
    summary: "an org's API keys (never the keys themselves)",
    async run({ args, actor, deps, io }) {
      const keys = (await listOrgApiKeys({ actor, org: args.org! }, deps)).map((k) => ({
        key_id: k.id,
        role: k.role,
        label: k.label,
        created_at: k.createdAt,
        last_used_at: k.lastUsedAt,
        revoked_at: k.revokedAt,
      }));
      await io.result(keys.map((k) => `${k.key_id}\t${k.role}\t${k.revoked_at ? "revoked" : "active"}\t${k.label ?? ""}`).join("\n") || "(no keys)", { keys });
      return 0;
    },
  },
  {
    name: "keys revoke",
    positionals: ["org", "key-id"],
    summary: "revoke an org API key",
    async run({ args, actor, deps, io }) {
      await revokeOrgApiKey({ actor, org: args.org!, keyId: args["key-id"]! }, deps);
      await io.result(`Revoked ${args["key-id"]}.`, { revoked: args["key-id"] });
      return 0;
    },
  },
  {
    name: "integrations validate-all",
    options: { org: { type: "string", value: "SLUG" } },
    summary: "re-test stored credentials and record the verdicts; exit 1 if any is invalid or expired",
    async run({ option, actor, deps, io }) {
      const report = await validateAllIntegrations({ actor, org: option("org"), onProgress: io.progress }, deps);
      await io.result(
        report.results.map((r) => `${r.org}/${r.provider}\t${r.status ?? "unchanged"}\t${r.outcome ?? r.error}`).join("\n") || "(no integrations)",
        report,
      );
      return report.invalid_or_expired > 0 ? 1 : 0;
    },
  },
  {
    name: "integrations smoke",
    positionals: ["provider"],
    options: {
      "credential-file": { type: "string", value: "F", required: true },
      "metadata-file": { type: "string", value: "M" },
      org: { type: "string", value: "SLUG" },
    },
    summary: "run one connection test against the real provider and print each check; stores nothing, never prints the secret",
    details: [
      "F: a JSON file of the provider's credential fields (for gcp/gcp_vertex the key file itself is fine); M: a JSON file of metadata",
      "--org: use that organization's AWS external ID (aws_iam, aws_bedrock); exit 1 unless the credential passed",
    ],
    async run({ args, option, actor, deps, io }) {
      const read = (file: string) => {
        try {
          return fs.readFileSync(file, "utf8");
        } catch {
          throw new UsageError(`cannot read ${file}`);
        }
      };
      const metadataFile = option("metadata-file");
      const r = await smokeTestProvider(
        {
          actor,
          provider: args.provider!,
          credentialText: read(option("credential-file")!),
          ...(metadataFile ? { metadataText: read(metadataFile) } : {}),
          org: option("org"),
        },
        deps,
      );
      const mark = (o: string) => (o === "ok" ? "PASS" : o === "skipped" ? "SKIP" : "FAIL");
      const lines = [
        `${r.name} (${r.provider}): ${r.outcome}${r.status ? ` → would be ${r.status}` : " (no verdict)"}; fingerprint ${r.fingerprint}`,
        ...r.checks.map((c) => `  ${mark(c.outcome)} ${c.name}\t${c.outcome}\t${c.duration_ms} ms${c.message ? `\n       ${c.message}` : ""}`),
        ...(r.account ? [`  account: ${r.account.id}${r.account.name ? ` (${r.account.name})` : ""}`] : []),
        ...Object.entries(r.warnings).map(([k, v]) => `  warning ${k}: ${v}`),
        `  endpoints: ${Object.entries(r.endpoints).map(([k, v]) => `${k}=${v}`).join(" ") || "(none)"}`,
        "  Nothing was stored.",
      ];
      await io.result(lines.join("\n"), r);
      return r.status === "active" ? 0 : 1;
    },
  },
  {
    name: "kms rotate",
    options: { "dry-run": { type: "boolean" }, "new-key": { type: "boolean" } },
    summary: "re-encrypt every credential under the primary key version",
    details: ["--new-key: first add a new local key version and make it primary"],
    async run({ flag, actor, deps, io }) {
      if (flag("new-key") && !flag("dry-run")) io.note(`Added key version ${await addLocalKeyVersion({ actor }, deps)} (now primary).`);
      const report = await rotateEncryption(
        { actor, dryRun: flag("dry-run"), onProgress: (done, total, row) => io.progress(done, total, row.org ? `${row.org}/${row.provider}` : "done") },
        deps,
      );
      await io.result(
        `${report.dry_run ? "Would re-encrypt" : "Re-encrypted"} ${report.rotated} of ${report.total} credentials under ${report.primary}; ${report.already_current} already current, ${report.skipped_changed} changed meanwhile, ${report.failed.length} failed.`,
        report,
      );
      return report.failed.length ? 1 : 0;
    },
  },
  {
    name: "kms status",
    summary: "credentials per key version",
    async run({ actor, deps, io }) {
      const s = await keyVersionStatus({ actor }, deps);
      await io.result(
        [`backend ${s.backend}, primary ${s.primary}`, ...s.versions.map((v) => `${v.key_version}\t${v.credentials}${v.primary ? "\t(primary)" : ""}`)].join("\n"),
        s,
      );
      return 0;
    },
  },
  {
    name: "kms retire",
    positionals: ["key-version"],
    summary: "remove an old local key version once no credential uses it",
    async run({ args, actor, deps, io }) {
      await retireLocalKeyVersion({ actor, version: args["key-version"]! }, deps);
      await io.result(`Retired ${args["key-version"]}.`, { retired: args["key-version"] });
      return 0;
    },
  },
  {
    name: "audit verify",
    options: { org: { type: "string", value: "SLUG" } },
    summary: "check each org's audit hash chain; exit 1 naming the org and the first broken event",
    async run({ option, actor, deps, io }) {
      const report = await verifyAuditTrail({ actor, org: option("org") }, deps);
      const lines = report.orgs.map((o) =>
        o.ok
          ? `${o.org}: intact (${o.events} events)`
          : `${o.org}: BROKEN at ${o.first_broken!.event_id ? `event ${o.first_broken!.event_id}` : "the newest events"} (seq ${o.first_broken!.seq}${o.first_broken!.at ? `, ${o.first_broken!.at}` : ""}): ${o.first_broken!.reason}`,
      );
      await io.result(lines.join("\n") || "(no audit events)", report);
      return report.ok ? 0 : 1;
    },
  },
];
