import "server-only";
import { AppError } from "../errors";
import type { Actor } from "./actor";
import { authorizeOrgOrThrow } from "./authorize";
import type { ApiKeyRecord, ApiKeyRole, OrgRecord } from "./auth-store";
import { getDeps, type CoreDeps } from "../deps";
import { recordAudit, recordAuditFailure } from "../audit/record-audit";
import { OrgSlugSchema } from "./org-slug";
import { findUserEmails } from "./accounts";

/**
 * Create an organization and, unless `initialApiKey` is false, its first admin API key (shown
 * once). The CLI makes the key; the web UI does not (its creator becomes the owner instead).
 * `perAccount`: the web UI's cap, MAX_ORGS_PER_ACCOUNT orgs created by one account (the CLI has
 * none); the org is recorded as that account's and refused as `forbidden` past the cap.
 */
export async function createOrganization(
  args: { actor: Actor; slug: string; name?: string; initialApiKey?: true; perAccount?: { userId: string; max: number } },
  deps?: CoreDeps,
): Promise<{ org: OrgRecord; apiKey: string; keyId: string }>;
export async function createOrganization(
  args: { actor: Actor; slug: string; name?: string; initialApiKey: false; perAccount?: { userId: string; max: number } },
  deps?: CoreDeps,
): Promise<{ org: OrgRecord; apiKey: null; keyId: null }>;
export async function createOrganization(
  args: { actor: Actor; slug: string; name?: string; initialApiKey?: boolean; perAccount?: { userId: string; max: number } },
  deps: CoreDeps = getDeps(),
): Promise<{ org: OrgRecord; apiKey: string | null; keyId: string | null }> {
  if (args.actor.kind === "api_key") throw new AppError("forbidden", "An org API key cannot create organizations.");
  const slug = OrgSlugSchema.safeParse(args.slug);
  if (!slug.success) throw new AppError("invalid_request", `The org slug ${slug.error.issues[0]?.message}.`, { fields: { slug: slug.error.issues[0]?.message ?? "is invalid" } });
  const name = (args.name ?? args.slug).trim().slice(0, 100) || args.slug;
  const now = new Date(deps.now());
  const made = args.perAccount ? await deps.auth.createOrgLimited(slug.data, name, now, args.perAccount) : ((await deps.auth.createOrg(slug.data, name, now)) ?? "taken");
  if (made === "limit") {
    const n = args.perAccount!.max;
    throw new AppError("forbidden", `An account can create at most ${n} organization${n === 1 ? "" : "s"}, and you have created ${n}; ask the operator of this service to raise the limit.`);
  }
  if (made === "taken") throw new AppError("conflict", `The organization '${slug.data}' already exists.`);
  const org = made;
  if (args.initialApiKey === false) return { org, apiKey: null, keyId: null };
  const { record, apiKey } = await deps.auth.createApiKey(org.slug, "admin", "initial admin key", now);
  await recordAudit(deps, { actor: args.actor, org: org.slug, action: "api_key.create", outcome: "ok", target: `${record.id} (admin)` });
  return { org, apiKey, keyId: record.id };
}

/** Create an org API key with a role; the key is returned once and stored only as a hash. Audited (api_key.create; the key id, never the key). */
export async function createOrgApiKey(
  args: { actor: Actor | null; org: string; role: ApiKeyRole; label?: string },
  deps: CoreDeps = getDeps(),
): Promise<{ apiKey: string; key: ApiKeyRecord }> {
  const audit = { actor: args.actor, org: args.org, action: "api_key.create" as const };
  try {
    const r = await createOrgApiKeyUnaudited(args, deps);
    await recordAudit(deps, { ...audit, outcome: "ok", target: `${r.key.id} (${r.key.role})` });
    return r;
  } catch (e) {
    await recordAuditFailure(deps, { ...audit, target: `(${String(args.role).slice(0, 16)})` }, e);
    throw e;
  }
}

async function createOrgApiKeyUnaudited(
  args: { actor: Actor | null; org: string; role: ApiKeyRole; label?: string },
  deps: CoreDeps,
): Promise<{ apiKey: string; key: ApiKeyRecord }> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  if (args.actor?.kind === "api_key" && args.actor.role !== "admin") throw new AppError("forbidden", "Only admins can create API keys.");
  // The creator is recorded so that removing or demoting them revokes the key (removeMember, updateMemberRole).
  const createdBy = args.actor?.kind === "user" ? args.actor.userId : null;
  const { record, apiKey } = await deps.auth.createApiKey(args.org, args.role, args.label?.slice(0, 100) ?? null, new Date(deps.now()), createdBy);
  // Checked again now that the key exists: a removal or demotion of its creator that ran meanwhile
  // revoked their keys before this one was there (withdrawGrants in org-accounts.ts), so this
  // request revokes its own. Either this check sees the change, or the key was stored before the
  // change and the removal's second revocation, after the change, takes it.
  try {
    await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  } catch (e) {
    await deps.auth.revokeApiKey(args.org, record.id, new Date(deps.now()));
    throw e;
  }
  return { apiKey, key: record };
}

/** A key as the keys page shows it: with who created it (their email, or "CLI"). */
export type ApiKeyView = ApiKeyRecord & { creator: string };

export async function listOrgApiKeys(args: { actor: Actor | null; org: string }, deps: CoreDeps = getDeps()): Promise<ApiKeyView[]> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  const keys = await deps.auth.listApiKeys(args.org);
  const emails = await findUserEmails(deps.env, keys.flatMap((k) => (k.createdBy ? [k.createdBy] : [])));
  return keys.map((k) => ({ ...k, creator: k.createdBy ? (emails.get(k.createdBy) ?? "a deleted user") : "CLI" }));
}

/** Revoke an org API key. Audited (api_key.revoke). */
export async function revokeOrgApiKey(args: { actor: Actor | null; org: string; keyId: string }, deps: CoreDeps = getDeps()): Promise<void> {
  const audit = { actor: args.actor, org: args.org, action: "api_key.revoke" as const, target: /^[0-9a-f]{12}$/.test(args.keyId) ? args.keyId : "?" };
  try {
    await revokeOrgApiKeyUnaudited(args, deps);
    await recordAudit(deps, { ...audit, outcome: "ok" });
  } catch (e) {
    await recordAuditFailure(deps, audit, e);
    throw e;
  }
}

async function revokeOrgApiKeyUnaudited(args: { actor: Actor | null; org: string; keyId: string }, deps: CoreDeps): Promise<void> {
  await authorizeOrgOrThrow(deps, args.actor, args.org, "write");
  if (!(await deps.auth.revokeApiKey(args.org, args.keyId, new Date(deps.now())))) {
    throw new AppError("not_found", `No active API key '${/^[0-9a-f]{12}$/.test(args.keyId) ? args.keyId : "?"}' in this organization.`);
  }
}
