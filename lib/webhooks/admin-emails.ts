import "server-only";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Env } from "../env";

/**
 * The addresses of an org's owners and admins (Better Auth's member table), for notification
 * mail. An org made only with the CLI has no members: []. On the embedded SQLite default, a
 * database where Better Auth never ran (the CLI, unit tests) answers [] without loading it.
 */
export function orgAdminEmailsFor(env: Env): (org: string) => Promise<string[]> {
  return async (org) => {
    if (!env.AUTH_DATABASE_URL && !betterAuthTablesExist(path.join(env.dataDir, "auth.sqlite"))) return [];
    const { findAuthOrganization, listOrgMembersRaw } = await import("../auth/accounts");
    const o = await findAuthOrganization(env, org);
    if (!o) return [];
    const members = await listOrgMembersRaw(env, o.id);
    return members.filter((m) => (m.role === "owner" || m.role === "admin") && m.email.includes("@")).map((m) => m.email);
  };
}

/**
 * Per file: the tables were seen (they are never dropped: no further check), or were missing at
 * `at` (checked again after a second: Better Auth may have created them since). Opening the database
 * for this on every integration event cost setup more than its encryption.
 */
const tablesChecked = new Map<string, { found: boolean; at: number }>();

function betterAuthTablesExist(file: string): boolean {
  const known = tablesChecked.get(file);
  if (known && (known.found || performance.now() - known.at < 1000)) return known.found;
  if (!fs.existsSync(file)) return false;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const found = Boolean(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'member'").get());
    tablesChecked.set(file, { found, at: performance.now() });
    return found;
  } finally {
    db.close();
  }
}
