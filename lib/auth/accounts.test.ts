import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getMigrations } from "better-auth/db/migration";
import { parseEnv, type Env } from "../env";
import { AppError } from "../errors";
import { createDeps, type CoreDeps } from "../deps";
import { listIntegrations } from "../integrations/list-integrations";
import { getAccounts, getReadyAuth, loadOrCreateAuthSecret, lookupMembership, parseOrgRole } from "./accounts";
import type { Actor } from "./actor";
import { authorizeOrgOrThrow } from "./authorize";
import { createOrganization } from "./organizations";
import {
  acceptInvitation,
  createUserOrganization,
  getInvitationPreview,
  inviteMember,
  listMyOrganizations,
  listOrgMembers,
  removeMember,
  updateMemberRole,
} from "./org-accounts";

let dir: string;
let env: Env;
let deps: CoreDeps;

async function signUp(email: string): Promise<{ actor: Actor; headers: Headers }> {
  const auth = await getReadyAuth(env);
  const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: email.split("@")[0]! }, returnHeaders: true });
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return { actor: { kind: "user", userId: r.response.user.id, email }, headers: new Headers({ cookie }) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-accounts-"));
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent" });
  deps = createDeps(env);
  await getAccounts(env).ready;
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("accounts", () => {
  it("keeps exactly the roles owner, admin and viewer (strongest wins)", () => {
    expect(parseOrgRole("owner")).toBe("owner");
    expect(parseOrgRole("viewer,admin")).toBe("admin");
    expect(parseOrgRole("member")).toBeNull();
    expect(parseOrgRole(null)).toBeNull();
  });

  it("generates the session secret once into DATA_DIR (0600) unless BETTER_AUTH_SECRET is set", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "cm-secret-"));
    const a = loadOrCreateAuthSecret(d);
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(loadOrCreateAuthSecret(d)).toBe(a);
    expect(fs.statSync(path.join(d, "auth-secret")).mode & 0o777).toBe(0o600);
    expect(loadOrCreateAuthSecret(d, "x".repeat(40))).toBe("x".repeat(40));
    fs.rmSync(d, { recursive: true, force: true });
  });

  it("migrates its tables into auth.sqlite next to the org tables, idempotently", async () => {
    const auth = await getReadyAuth(env);
    const again = await getMigrations((await auth.$context).options);
    expect(again.toBeCreated).toEqual([]);
    expect(again.toBeAdded).toEqual([]);
    expect(fs.existsSync(path.join(dir, "auth.sqlite"))).toBe(true);
  });

  it("creates both org rows with the creator as owner; memberships drive authorizeOrgOrThrow", async () => {
    const ann = await signUp("ann@example.com");
    const bob = await signUp("bob@example.com");
    const org = await createUserOrganization({ actor: ann.actor, input: { name: "Acme", slug: "acme" }, reqHeaders: ann.headers }, deps);
    expect(org).toMatchObject({ slug: "acme", name: "Acme" });
    expect(org.externalId).toMatch(/^cm-/);
    expect(await lookupMembership(env, (ann.actor as { userId: string }).userId, "acme")).toBe("owner");
    expect(await authorizeOrgOrThrow(deps, ann.actor, "acme", "write")).toMatchObject({ slug: "acme" });
    expect(await listMyOrganizations(ann.actor, deps)).toEqual([{ slug: "acme", name: "Acme", role: "owner" }]);
    // Bob is not a member: the org does not exist for him.
    expect(await codeOf(authorizeOrgOrThrow(deps, bob.actor, "acme", "read"))).toBe("org_not_found");
    expect(await codeOf(listIntegrations({ actor: bob.actor, org: "acme" }, deps))).toBe("org_not_found");
    expect(await codeOf(listOrgMembers({ actor: bob.actor, org: "acme" }, deps))).toBe("org_not_found");
    expect(await codeOf(inviteMember({ actor: bob.actor, org: "acme", input: { email: "x@example.com", role: "viewer" }, reqHeaders: bob.headers }, deps))).toBe(
      "org_not_found",
    );

    // Invited as viewer, Bob can read but not write.
    const inv = await inviteMember({ actor: ann.actor, org: "acme", input: { email: "bob@example.com", role: "viewer" }, reqHeaders: ann.headers }, deps);
    expect(await getInvitationPreview(inv.token, deps)).toMatchObject({ orgName: "Acme", role: "viewer", state: "pending", email: "bob@example.com" });
    const carl = await signUp("carl@example.com");
    expect(await codeOf(acceptInvitation({ actor: carl.actor, token: inv.token, reqHeaders: carl.headers }, deps))).toBe("forbidden");
    expect(await acceptInvitation({ actor: bob.actor, token: inv.token, reqHeaders: bob.headers }, deps)).toEqual({ org: "acme" });
    expect(await getInvitationPreview(inv.token, deps)).toMatchObject({ state: "accepted" });
    expect(await lookupMembership(env, (bob.actor as { userId: string }).userId, "acme")).toBe("viewer");
    expect((await listIntegrations({ actor: bob.actor, org: "acme" }, deps)).integrations).toEqual([]);
    expect(await codeOf(authorizeOrgOrThrow(deps, bob.actor, "acme", "write"))).toBe("forbidden");
    expect(await codeOf(inviteMember({ actor: bob.actor, org: "acme", input: { email: "y@example.com", role: "admin" }, reqHeaders: bob.headers }, deps))).toBe(
      "forbidden",
    );

    // Roles change and members leave through the same checks.
    const { members } = await listOrgMembers({ actor: ann.actor, org: "acme" }, deps);
    const bobMember = members.find((m) => m.email === "bob@example.com")!;
    const annMember = members.find((m) => m.email === "ann@example.com")!;
    expect(annMember.isYou).toBe(true);
    expect(await codeOf(updateMemberRole({ actor: bob.actor, org: "acme", memberId: annMember.id, role: "viewer", reqHeaders: bob.headers }, deps))).toBe("forbidden");
    expect(await codeOf(updateMemberRole({ actor: ann.actor, org: "acme", memberId: annMember.id, role: "viewer", reqHeaders: ann.headers }, deps))).toBe("forbidden");
    await updateMemberRole({ actor: ann.actor, org: "acme", memberId: bobMember.id, role: "admin", reqHeaders: ann.headers }, deps);
    expect(await authorizeOrgOrThrow(deps, bob.actor, "acme", "write")).toMatchObject({ slug: "acme" });
    await removeMember({ actor: ann.actor, org: "acme", memberId: bobMember.id, reqHeaders: ann.headers }, deps);
    expect(await codeOf(authorizeOrgOrThrow(deps, bob.actor, "acme", "read"))).toBe("org_not_found");
  });

  it("refuses a taken or reserved slug, and undoes its own org row when Better Auth refuses", async () => {
    const dee = await signUp("dee@example.com");
    await createOrganization({ actor: { kind: "system", name: "cli" }, slug: "from-cli" }, deps);
    expect(await codeOf(createUserOrganization({ actor: dee.actor, input: { name: "X", slug: "from-cli" }, reqHeaders: dee.headers }, deps))).toBe("conflict");
    expect(await codeOf(createUserOrganization({ actor: dee.actor, input: { name: "X", slug: "new" }, reqHeaders: dee.headers }, deps))).toBe("invalid_request");
    expect(await codeOf(createUserOrganization({ actor: dee.actor, input: { name: "X", slug: "Bad Slug" }, reqHeaders: dee.headers }, deps))).toBe("invalid_request");
    // No session cookie: Better Auth refuses, and the org row made first is removed again.
    expect(await codeOf(createUserOrganization({ actor: dee.actor, input: { name: "Half", slug: "half-made" }, reqHeaders: new Headers() }, deps))).toBe(
      "unauthenticated",
    );
    expect(await deps.auth.getOrg("half-made")).toBeNull();
    // An org API key cannot make organizations at all.
    expect(await codeOf(createUserOrganization({ actor: { kind: "api_key", org: "acme", role: "admin", keyId: "k" }, input: { name: "K", slug: "k-org" }, reqHeaders: new Headers() }, deps))).toBe(
      "forbidden",
    );
  });

  it("createOrganization can skip the initial API key (the UI path)", async () => {
    const r = await createOrganization({ actor: { kind: "system", name: "t" }, slug: "no-key", initialApiKey: false }, deps);
    expect(r.apiKey).toBeNull();
    expect(await deps.auth.listApiKeys("no-key")).toEqual([]);
  });
});
