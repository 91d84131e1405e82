import "server-only";
import { ERROR_STATUS, type ErrorCode } from "../errors";
import { getRegistry } from "../integrations/registry";
import type { Registry } from "../integrations/registry-schema";
import { buildOpenApiDocument } from "./openapi";
import { COMMANDS } from "../cli/commands";
import { AUDIT_ACTIONS, type AuditAction } from "../audit/events";
import { commandSynopsis, type Command } from "../cli/run";

/**
 * The generated parts of docs/api.md: the route table from the OpenAPI document (GET /openapi.json),
 * the error table from lib/errors.ts, the credential fields from the provider registry, the CLI
 * commands from lib/cli/commands.ts, and the audit actions from lib/audit/events.ts. Each
 * sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; `npm run docs:api`
 * rewrites them and lib/http/api-doc.test.ts fails when docs/api.md is out of date.
 */

/** When each error code is answered. Typed by ErrorCode: a new code does not compile until it is documented. */
const ERROR_WHEN: Record<ErrorCode, string> = {
  invalid_request: "the body is not JSON, has the wrong shape or unknown fields; a bad query parameter",
  invalid_format: "a credential field breaks the provider's rules; `fields` names each one and why",
  invalid_metadata: "the metadata breaks the provider's metadata schema; `fields` likewise",
  unauthenticated: "no API key (or session), or one that is unknown, malformed or revoked",
  forbidden: "the key's role may not do this (a viewer changing something; a pipeline key outside `…/access`)",
  org_not_found: "the org does not exist, or the key belongs to another org (the two are not told apart)",
  unknown_provider: "the provider id is not in the registry (and is not `saas_<vendor>`)",
  integration_not_found: "the org has no credential for this provider (or, for `…/access`, none that is active)",
  not_found: "the named thing (an API key, a webhook endpoint) does not exist in this org",
  conflict: "a concurrent change to the same integration won; nothing was changed; retry",
  payload_too_large: "the body is over 64 KiB",
  connection_test_failed: "the provider rejected the credential or a permission the cost pipeline needs; the body has `connection_test`",
  rate_limited: "a budget is spent (the org's setup/validate calls, the pipeline key's access calls, or the org's pace for this provider, which tests and `…/access` share), or the provider throttled the test; `Retry-After` says when to retry",
  provider_unreachable: "the provider could not be reached, or answered 5xx, during the test",
  encryption_unavailable: "the key service is down, or a stored credential no longer decrypts; nothing was changed",
  storage_unavailable: "the credential store is down; nothing was changed",
  provider_timeout: "the provider did not answer within `CONNECTION_TEST_TIMEOUT_MS`",
  internal: "an unexpected failure; the log has the request id, the body says nothing more",
};

/**
 * What each audit action records (docs/api.md, "Audit trail"). Typed by AuditAction: a new action
 * does not compile until it is documented here.
 */
const AUDIT_ACTION_WHEN: Record<AuditAction, string> = {
  "integration.setup": "a provider connected (`fingerprint_after` the new credential's)",
  "integration.replace": "a credential replaced (`fingerprint_before` → `fingerprint_after`)",
  "integration.validate": "a stored credential re-tested (by a key, a user, `validate-all` or the scheduler); `outcome` is the connection test's",
  "integration.delete": "an integration deleted (`fingerprint_before` the deleted credential's)",
  "integration.metadata": "an integration's metadata changed",
  "integration.access": "a pipeline key fetched credentials (`POST …/access`)",
  "credential.rekey":
    "`kms rotate` re-encrypted a stored credential under the primary key version, or failed to (one event per credential, actor `cli`, one `request_id` per run); `target` the key versions `from → to`. The fingerprint is the same on both sides: it is the plaintext's, and re-encryption does not change the plaintext",
  "api_key.create": "an org API key created; `target` its id and role (never the key)",
  "api_key.revoke": "an org API key revoked, by hand or because its creator was removed or demoted; `target` its id",
  "member.invite": "someone invited; `target` their email and role (never the invitation link)",
  "member.role_change": "a member's role changed; `target` `email (old → new)`",
  "member.remove": "a member removed; `target` their email and role",
  "invitation.accept": "an invitation accepted (or refused: wrong account, expired); `target` the invited email and role",
  "invitation.cancel": "a pending invitation withdrawn (by an owner or admin, or with the removal or demotion of the member who sent it: then `target` ends with `, sent by` and that member; or of the member it is addressed to, or once that address has joined: then `, addressed to` and that member); `target` the invited email and role",
  "webhook.create": "a webhook endpoint added; `target` its id and the URL's origin only (`wh_… (https://host:port)`, never its path, query or signing secret); a refused URL shows its origin",
  "webhook.delete": "a webhook endpoint removed, by hand or because the member who added it was removed or demoted; `target` its id and the URL's origin",
  "sign_in.failed": "a wrong password for a member's account, in each org of the account (actor the account, `client_ip` the attempt's)",
  "password.reset": "a member's password reset through a mailed link, in each org of the account (actor the account, `client_ip` the reset's)",
};

type Op = {
  summary?: string;
  parameters?: Array<{ name: string; in: string }>;
  responses?: Record<string, { description?: string }>;
  security?: unknown[];
};

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderRoutes(doc: { paths: Record<string, Record<string, Op>> } = buildOpenApiDocument() as never): string {
  const rows = ["| Method | Path | What it does | Success | Errors (codes) |", "|---|---|---|---|---|"];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const responses = Object.entries(op.responses ?? {});
      const ok = responses.filter(([s]) => s.startsWith("2")).map(([s]) => s);
      const errors = responses
        .filter(([s]) => !s.startsWith("2"))
        .flatMap(([s, r]) => (Object.hasOwn(ERROR_STATUS, (r.description ?? "").split(", ")[0]!) ? (r.description ?? "").split(", ").map((c) => `\`${c}\``) : [`${s}`]));
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      const shownPath = query.length ? `${path}?${query.map((q) => `${q}=`).join("&")}` : path;
      const auth = Array.isArray(op.security) && op.security.length === 0 ? " (no key)" : "";
      rows.push(`| ${method.toUpperCase()} | \`${cell(shownPath)}\` | ${cell(op.summary ?? "")}${auth} | ${ok.join(", ")} | ${errors.join(", ") || "—"} |`);
    }
  }
  return rows.join("\n");
}

export function renderErrors(): string {
  const rows = ["| Status | `code` | When |", "|---|---|---|"];
  const codes = (Object.keys(ERROR_STATUS) as ErrorCode[]).sort((a, b) => ERROR_STATUS[a] - ERROR_STATUS[b]);
  for (const code of codes) rows.push(`| ${ERROR_STATUS[code]} | \`${code}\` | ${cell(ERROR_WHEN[code])} |`);
  return rows.join("\n");
}

export function renderProviders(registry: Registry = getRegistry()): string {
  const rows = ["| Provider | Credential type | Fields (**secret**, `?` optional) | Connection test checks |", "|---|---|---|---|"];
  for (const p of registry.providers) {
    const id = p.template ? `${p.id}_<vendor>` : p.id;
    const fields = p.fields.map((f) => {
      const name = `\`${f.name}\`${f.required ? "" : "?"}`;
      return f.secret ? `**${name}**` : name;
    });
    rows.push(`| \`${id}\` | ${cell(p.credential_type_label)} | ${fields.join(", ")} | ${p.connection_test.checks.map((c) => `\`${c.name}\``).join(", ")} |`);
  }
  return rows.join("\n");
}

/** The command line, from the CLI's own table (lib/cli/commands.ts): the same text as `--help`. */
export function renderCli(commands: readonly Command[] = COMMANDS): string {
  const rows = ["| Command | What it does |", "|---|---|"];
  for (const c of commands) rows.push(`| \`${cell(commandSynopsis(c))}\` | ${cell([c.summary, ...(c.details ?? [])].join("; "))} |`);
  return rows.join("\n");
}

/** The audit actions, in the order of AUDIT_ACTIONS (the Activity page's filter and the API's `action` parameter use the same list). */
export function renderAuditActions(): string {
  const rows = ["| `action` | Recorded when |", "|---|---|"];
  for (const a of AUDIT_ACTIONS) rows.push(`| \`${a}\` | ${cell(AUDIT_ACTION_WHEN[a])} |`);
  return rows.join("\n");
}

export const API_DOC_SECTIONS: Record<string, () => string> = {
  routes: () => renderRoutes(),
  errors: renderErrors,
  providers: () => renderProviders(),
  cli: () => renderCli(),
  "audit-actions": renderAuditActions,
};

/** The document with every generated section replaced by what the code says today. */
export function regenerateApiDoc(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(API_DOC_SECTIONS)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`docs/api.md has no ${open} … ${close} section`);
    out = `${out.slice(0, start + open.length)}\n${render()}\n${out.slice(end)}`;
  }
  return out;
}
