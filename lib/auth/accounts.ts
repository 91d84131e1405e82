import "server-only";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { isAPIError } from "better-auth/api";
import { getMigrations } from "better-auth/db/migration";
import { nextCookies } from "better-auth/next-js";
import { createAccessControl } from "better-auth/plugins/access";
import { organization } from "better-auth/plugins/organization";
import { AppError, type ErrorCode } from "../errors";
import type { Env } from "../env";
import { getLogger } from "../log";
import { mailIsDelivered, sendMail } from "../mail";
import { resetPasswordMail, verificationMail } from "../mail/templates";
import type { OrgRole } from "./actor";
import { sharedAuthPool } from "./pg-pool";

/**
 * User accounts, sessions, organizations, members and invitations: Better Auth (email + password,
 * organization plugin). Only the server talks to it: no `/api/auth` handler is mounted, so every
 * change goes through a server action that checks the session and the role with
 * `authorizeOrgOrThrow` before Better Auth runs its own checks. The product's org rows (slug,
 * external ID) and org API keys stay in AuthStore; an org exists in both with the same slug.
 *
 * Tables live in DATA_DIR/auth.sqlite next to AuthStore's (no name clash), or in Postgres when
 * AUTH_DATABASE_URL is set (again next to AuthStore's, through one shared pool); they are migrated
 * once per process before first use (idempotent).
 */

export const ORG_ROLES = ["owner", "admin", "viewer"] as const satisfies readonly OrgRole[];
export const INVITABLE_ROLES = ["admin", "viewer"] as const;

// Exactly three roles. Integration permissions are not Better Auth's business (authorizeOrgOrThrow
// decides those); these statements only govern the organization plugin's own endpoints.
const ac = createAccessControl({
  organization: ["update", "delete"],
  member: ["create", "update", "delete"],
  invitation: ["create", "cancel"],
  team: ["create", "update", "delete"],
  ac: ["create", "read", "update", "delete"],
} as const);

const roles = {
  owner: ac.newRole({ organization: ["update", "delete"], member: ["create", "update", "delete"], invitation: ["create", "cancel"] }),
  admin: ac.newRole({ organization: ["update"], member: ["create", "update", "delete"], invitation: ["create", "cancel"] }),
  viewer: ac.newRole({ organization: [], member: [], invitation: [] }),
};

/** The session-signing secret: BETTER_AUTH_SECRET, else one generated into DATA_DIR (0600). */
export function loadOrCreateAuthSecret(dataDir: string, fromEnv?: string): string {
  if (fromEnv) return fromEnv;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, "auth-secret");
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const secret = fs.readFileSync(file, "utf8").trim();
  if (secret.length < 32) throw new Error(`${file} holds a secret shorter than 32 characters; delete it or set BETTER_AUTH_SECRET.`);
  return secret;
}

function openDatabase(env: Env) {
  if (env.AUTH_DATABASE_URL) return sharedAuthPool(env.AUTH_DATABASE_URL); // AuthStore's pool too
  fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(env.dataDir, "auth.sqlite");
  const db = new Database(file);
  try {
    fs.chmodSync(file, 0o600);
  } catch {
    /* best effort on filesystems without modes */
  }
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  return db;
}

/** The public origin links in mail point at. */
export function publicOrigin(env: Env): string {
  return env.BETTER_AUTH_URL ?? `http://localhost:${env.PORT}`;
}

/**
 * `Secure` session cookies whenever NODE_ENV=production, unless the origin is plain-http loopback
 * (a local run, where the browser would otherwise drop the cookie). A TLS-terminating proxy in
 * front of an http origin no longer leaves the cookie plain.
 */
export function secureCookies(env: Env, origin = publicOrigin(env)): boolean {
  if (origin.startsWith("https://")) return true;
  if (env.NODE_ENV !== "production") return false;
  return !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(origin);
}

/**
 * Mail from Better Auth's callbacks, sent while the user waits (never queued: the link is a bearer
 * secret, valid one hour). A failure is logged (by name and code) and thrown as an AppError with a
 * message for the user. Where it surfaces is Better Auth's choice, and the right one for each:
 * sign-up and reset requests run the callback through `runInBackgroundOrAwait`, which catches and
 * logs it (sign-up still succeeds; a reset request answers the same whether the account exists, so
 * a failed send must not tell), while "send the confirmation link again" throws it back to the
 * action, which shows the message (node_modules/better-auth/dist/api/routes/email-verification.mjs,
 * sign-up.mjs, password.mjs).
 */
async function sendAccountMail(env: Env, kind: "verify-email" | "reset-password", message: Parameters<typeof sendMail>[1]): Promise<void> {
  try {
    const r = await sendMail(env, message);
    getLogger().info({ mail: kind, transport: r.transport }, "mail sent");
  } catch (e) {
    getLogger().error({ mail: kind, err_name: (e as Error)?.name ?? "Error", err_code: (e as { code?: unknown })?.code }, "mail could not be sent");
    throw new AppError("internal", "The mail could not be sent: the mail server did not take it. Try again in a few minutes.");
  }
}

function authOptions(env: Env) {
  const baseURL = publicOrigin(env);
  return {
    appName: "Credential manager",
    baseURL,
    secret: loadOrCreateAuthSecret(env.dataDir, env.BETTER_AUTH_SECRET),
    database: openDatabase(env),
    emailAndPassword: {
      enabled: true,
      minPasswordLength: 10,
      maxPasswordLength: 128,
      autoSignIn: true,
      // Better Auth's link points at its router (not mounted): ours carries the same token to
      // app/(auth)/reset-password, whose action calls auth.api.resetPassword (single use, 1 hour).
      // https://www.better-auth.com/docs/authentication/email-password#request-password-reset
      // (the token is consumed in node_modules/better-auth/dist/api/routes/password.mjs).
      resetPasswordTokenExpiresIn: 60 * 60,
      revokeSessionsOnPasswordReset: true,
      sendResetPassword: async ({ user, token }: { user: { email: string }; token: string }) =>
        sendAccountMail(env, "reset-password", resetPasswordMail({ to: user.email, link: `${baseURL}/reset-password?token=${encodeURIComponent(token)}` })),
    },
    // https://www.better-auth.com/docs/concepts/email#email-verification: a signed JWT (HS256,
    // the auth secret), checked by auth.api.verifyEmail.
    emailVerification: {
      sendOnSignUp: true,
      expiresIn: 60 * 60,
      sendVerificationEmail: async ({ user, token }: { user: { email: string }; token: string }) =>
        sendAccountMail(env, "verify-email", verificationMail({ to: user.email, link: `${baseURL}/verify-email?token=${encodeURIComponent(token)}` })),
    },
    // Reset tokens are kept as hashes in the verification table: a copy of the database does not
    // let anyone reset a password (node_modules/better-auth/dist/db/verification-token-storage.mjs).
    verification: { storeIdentifier: "hashed" as const },
    session: { expiresIn: 60 * 60 * 24 * 7, updateAge: 60 * 60 * 24 },
    advanced: { cookiePrefix: "cm", useSecureCookies: secureCookies(env, baseURL) },
    telemetry: { enabled: false },
    logger: { level: "error" as const },
    plugins: [
      organization({
        ac,
        roles,
        creatorRole: "owner",
        invitationExpiresIn: 60 * 60 * 24 * 7,
        cancelPendingInvitationsOnReInvite: true,
        // With real mail (SMTP_URL), only someone who proved the address by mail may accept.
        // https://www.better-auth.com/docs/plugins/organization (requireEmailVerificationOnInvitation)
        requireEmailVerificationOnInvitation: mailIsDelivered(env),
      }),
      // Server actions set and clear the session cookie through next/headers; must stay last.
      nextCookies(),
    ],
  };
}

function createAuth(env: Env) {
  return betterAuth(authOptions(env));
}

export type Auth = ReturnType<typeof createAuth>;

export interface Accounts {
  auth: Auth;
  /** Resolves once the tables exist; every function below awaits it. */
  ready: Promise<void>;
}

function buildAccounts(env: Env): Accounts {
  const auth = createAuth(env);
  const ready = (async () => {
    const ctx = await auth.$context;
    const { runMigrations } = await getMigrations(ctx.options);
    await runMigrations();
  })();
  // Never an unhandled rejection: callers await `ready` and see the error themselves.
  ready.catch(() => {});
  return { auth, ready };
}

const GLOBAL_KEY = Symbol.for("credential-manager.accounts");
type GlobalWithAccounts = typeof globalThis & { [GLOBAL_KEY]?: Map<string, Accounts> };

/** The accounts of this process for a given configuration (one Better Auth instance per DATA_DIR / database). */
export function getAccounts(env: Env): Accounts {
  const g = globalThis as GlobalWithAccounts;
  const all = (g[GLOBAL_KEY] ??= new Map());
  const key = env.AUTH_DATABASE_URL ?? env.dataDir;
  let a = all.get(key);
  if (!a) {
    a = buildAccounts(env);
    all.set(key, a);
  }
  return a;
}

/** The auth instance, migrated. */
export async function getReadyAuth(env: Env): Promise<Auth> {
  const a = getAccounts(env);
  await a.ready;
  return a.auth;
}

// ------------------------------------------------------------------ reads through the adapter

interface OrgRow {
  id: string;
  name: string;
  slug: string;
}
interface MemberRow {
  id: string;
  organizationId: string;
  userId: string;
  role: string;
  createdAt: Date;
}
interface UserRow {
  id: string;
  email: string;
  name: string;
  emailVerified?: boolean | number | null;
}
export interface InvitationRow {
  id: string;
  organizationId: string;
  email: string;
  role: string;
  status: string;
  expiresAt: Date;
  inviterId: string;
  createdAt?: Date;
}

async function adapter(env: Env) {
  const auth = await getReadyAuth(env);
  return (await auth.$context).adapter;
}

/** The strongest of a member's roles (Better Auth stores several comma-separated), or null. */
export function parseOrgRole(raw: string | null | undefined): OrgRole | null {
  const parts = new Set((raw ?? "").split(",").map((r) => r.trim()));
  for (const r of ORG_ROLES) if (parts.has(r)) return r;
  return null;
}

export async function findAuthOrganization(env: Env, slug: string): Promise<OrgRow | null> {
  const db = await adapter(env);
  return db.findOne<OrgRow>({ model: "organization", where: [{ field: "slug", value: slug }] });
}

/** The user's role in the org with this slug (from Better Auth's member table), or null. */
export async function lookupMembership(env: Env, userId: string, slug: string): Promise<OrgRole | null> {
  const db = await adapter(env);
  const org = await db.findOne<OrgRow>({ model: "organization", where: [{ field: "slug", value: slug }] });
  if (!org) return null;
  const rows = await memberRowsOf(env, org.id, userId);
  return rows[0] ? parseOrgRole(rows[0].role) : null;
}

// ------------------------------------------------------------------ one member row per user and org

export const ROLE_RANK: Record<OrgRole, number> = { viewer: 1, admin: 2, owner: 3 };

/**
 * Which of one user's member rows in one org counts: the lowest role, then the oldest row, then the
 * smallest id. Better Auth's acceptInvitation does not check for an existing membership
 * (node_modules/better-auth/dist/plugins/organization/routes/crud-invites.mjs), so a database
 * from before acceptInvitation refused members can hold two rows; the order is fixed so that no
 * lookup picks the higher one by accident, and two requests repairing the same rows keep the same
 * one (docs/security.md, "Removed and demoted members").
 */
function effectiveFirst(a: MemberRow, b: MemberRow): number {
  const rank = (r: MemberRow) => {
    const role = parseOrgRole(r.role);
    return role ? ROLE_RANK[role] : 0;
  };
  return rank(a) - rank(b) || new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A user's member rows in an org, the one that counts first (effectiveFirst); normally one or none. */
export async function memberRowsOf(env: Env, orgId: string, userId: string): Promise<MemberRow[]> {
  const db = await adapter(env);
  const rows = await db.findMany<MemberRow>({
    model: "member",
    where: [
      { field: "organizationId", value: orgId },
      { field: "userId", value: userId },
    ],
  });
  return rows.sort(effectiveFirst);
}

/** Whether the user with this email has a member row in the org. */
export async function isMemberByEmail(env: Env, orgId: string, email: string): Promise<boolean> {
  const db = await adapter(env);
  const user = await db.findOne<UserRow>({ model: "user", where: [{ field: "email", value: email.toLowerCase() }] });
  return user ? (await memberRowsOf(env, orgId, user.id)).length > 0 : false;
}

/** Deletes a user's member rows in an org, all of them or all but `keepId`; returns how many went. */
export async function deleteMemberRows(env: Env, orgId: string, userId: string, keepId?: string): Promise<number> {
  const db = await adapter(env);
  let n = 0;
  for (const row of await memberRowsOf(env, orgId, userId)) {
    if (row.id === keepId) continue;
    await db.delete({ model: "member", where: [{ field: "id", value: row.id }] });
    n++;
  }
  return n;
}

/** The organizations a user belongs to, with their role, by name. */
export async function listUserOrganizations(env: Env, userId: string): Promise<Array<{ slug: string; name: string; role: OrgRole }>> {
  const db = await adapter(env);
  const members = await db.findMany<MemberRow>({ model: "member", where: [{ field: "userId", value: userId }] });
  if (members.length === 0) return [];
  const orgs = await db.findMany<OrgRow>({
    model: "organization",
    where: [{ field: "id", value: members.map((m) => m.organizationId), operator: "in" }],
  });
  const out: Array<{ slug: string; name: string; role: OrgRole }> = [];
  for (const o of orgs) {
    const role = parseOrgRole(members.filter((m) => m.organizationId === o.id).sort(effectiveFirst)[0]?.role);
    if (role) out.push({ slug: o.slug, name: o.name, role });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.slug.localeCompare(b.slug));
}

/** A user's email and whether it was verified by mail, or null. */
export async function findUserById(env: Env, userId: string): Promise<{ id: string; email: string; emailVerified: boolean } | null> {
  const db = await adapter(env);
  const u = await db.findOne<UserRow>({ model: "user", where: [{ field: "id", value: userId }] });
  return u ? { id: u.id, email: u.email, emailVerified: Boolean(u.emailVerified) } : null;
}

/**
 * The address-verification link (app/(auth)/verify-email): Better Auth's signed token (1 hour),
 * checked and applied by auth.api.verifyEmail. Visiting it twice is harmless.
 */
export async function verifyEmailToken(env: Env, token: string): Promise<"verified" | "expired" | "invalid"> {
  if (!/^[A-Za-z0-9_.-]{20,2000}$/.test(token)) return "invalid";
  const auth = await getReadyAuth(env);
  try {
    await auth.api.verifyEmail({ query: { token } });
    return "verified";
  } catch (e) {
    if (isAPIError(e)) return (e.body as { code?: string } | undefined)?.code === "TOKEN_EXPIRED" ? "expired" : "invalid";
    throw e;
  }
}

/** Emails of these users (deleted users are absent). */
export async function findUserEmails(env: Env, userIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Map();
  const db = await adapter(env);
  const users = await db.findMany<UserRow>({ model: "user", where: [{ field: "id", value: ids, operator: "in" }] });
  return new Map(users.map((u) => [u.id, u.email]));
}

export async function listOrgMembersRaw(env: Env, orgId: string): Promise<Array<{ id: string; userId: string; email: string; name: string; role: OrgRole; createdAt: string }>> {
  const db = await adapter(env);
  // One entry per user: the row that counts (effectiveFirst), should a database hold two.
  const members = (await db.findMany<MemberRow>({ model: "member", where: [{ field: "organizationId", value: orgId }] }))
    .sort(effectiveFirst)
    .filter((m, i, all) => all.findIndex((x) => x.userId === m.userId) === i);
  if (members.length === 0) return [];
  const users = await db.findMany<UserRow>({ model: "user", where: [{ field: "id", value: members.map((m) => m.userId), operator: "in" }] });
  return members
    .map((m) => {
      const u = users.find((x) => x.id === m.userId);
      return {
        id: m.id,
        userId: m.userId,
        email: u?.email ?? "(deleted user)",
        name: u?.name ?? "",
        role: parseOrgRole(m.role) ?? "viewer",
        createdAt: new Date(m.createdAt).toISOString(),
      };
    })
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function listPendingInvitationsRaw(env: Env, orgId: string): Promise<InvitationRow[]> {
  const db = await adapter(env);
  const rows = await db.findMany<InvitationRow>({
    model: "invitation",
    where: [
      { field: "organizationId", value: orgId },
      { field: "status", value: "pending" },
    ],
  });
  return rows.filter((r) => new Date(r.expiresAt).getTime() > Date.now());
}

/**
 * Cancel a pending invitation (its link stops working); false when it was not pending any more.
 * The move from pending to canceled is a guarded write, as Better Auth makes its own transitions
 * (`incrementOne` with the status in the where clause: updateInvitation in
 * node_modules/better-auth/dist/plugins/organization/adapter.mjs), so one accepted meanwhile is
 * left as it is.
 */
export async function cancelPendingInvitation(env: Env, id: string): Promise<boolean> {
  const db = await adapter(env);
  const done = await db.incrementOne<InvitationRow>({
    model: "invitation",
    where: [
      { field: "id", value: id },
      { field: "status", value: "pending" },
    ],
    increment: {},
    set: { status: "canceled" },
  });
  return done !== null;
}

/** Cancel the org's pending invitations that this user sent; returns those it canceled. */
export async function cancelPendingInvitationsBy(env: Env, orgId: string, inviterId: string): Promise<InvitationRow[]> {
  const db = await adapter(env);
  const pending = await db.findMany<InvitationRow>({
    model: "invitation",
    where: [
      { field: "organizationId", value: orgId },
      { field: "inviterId", value: inviterId },
      { field: "status", value: "pending" },
    ],
  });
  const canceled: InvitationRow[] = [];
  for (const inv of pending) if (await cancelPendingInvitation(env, inv.id)) canceled.push(inv);
  return canceled;
}

/**
 * Cancel the org's pending invitations addressed to this email (all but `exceptId`); returns those
 * it canceled. Used when the address's owner is removed or demoted, and once they have joined:
 * accepting one of them later would give a removed member their way back in.
 */
export async function cancelPendingInvitationsTo(env: Env, orgId: string, email: string, exceptId?: string): Promise<InvitationRow[]> {
  const db = await adapter(env);
  const pending = await db.findMany<InvitationRow>({
    model: "invitation",
    where: [
      { field: "organizationId", value: orgId },
      { field: "email", value: email.toLowerCase() },
      { field: "status", value: "pending" },
    ],
  });
  const canceled: InvitationRow[] = [];
  for (const inv of pending) if (inv.id !== exceptId && (await cancelPendingInvitation(env, inv.id))) canceled.push(inv);
  return canceled;
}

export async function findInvitation(env: Env, id: string): Promise<(InvitationRow & { org: OrgRow | null }) | null> {
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(id)) return null;
  const db = await adapter(env);
  const inv = await db.findOne<InvitationRow>({ model: "invitation", where: [{ field: "id", value: id }] });
  if (!inv) return null;
  const org = await db.findOne<OrgRow>({ model: "organization", where: [{ field: "id", value: inv.organizationId }] });
  return { ...inv, org };
}

// ------------------------------------------------------------------ errors

const STATUS_TO_CODE: Record<string, ErrorCode> = {
  BAD_REQUEST: "invalid_request",
  UNAUTHORIZED: "unauthenticated",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  CONFLICT: "conflict",
  UNPROCESSABLE_ENTITY: "invalid_request",
  TOO_MANY_REQUESTS: "rate_limited",
};

/**
 * Better Auth's APIError → AppError (its messages are fixed texts, never input). Recognized with
 * Better Auth's own `isAPIError` (by name as well as class: @better-auth/core
 * `src/utils/is-api-error.ts`), not `instanceof`: the one Better Auth instance of the process
 * (getAccounts, on globalThis) throws the APIError class of the module graph that built it, and
 * Next loads route handlers and server actions in separate graphs. With `instanceof`, once a REST
 * setup had built the instance (its notification looks up the org's admins), every wrong password
 * was an "internal" error and the sign-in failure budget counted none of them
 * (tests/integration/multi-instance.test.ts found it).
 */
export async function withAuthErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAPIError(e)) {
      const code = STATUS_TO_CODE[String(e.status)] ?? "invalid_request";
      const message = typeof e.body?.message === "string" && e.body.message ? e.body.message : "The request was refused.";
      throw new AppError(code, message.endsWith(".") ? message : `${message}.`);
    }
    throw e;
  }
}
