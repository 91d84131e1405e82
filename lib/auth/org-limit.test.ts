import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv, type Env } from "../env";
import { AppError } from "../errors";
import { createDeps, type CoreDeps } from "../deps";
import { getAccounts, getReadyAuth } from "./accounts";
import type { Actor } from "./actor";
import { createOrganization } from "./organizations";
import { createUserOrganization, listMyOrganizations } from "./org-accounts";

/**
 * MAX_ORGS_PER_ACCOUNT (docs/security.md, "Organizations per account"): one account creates at most
 * that many organizations through the app, however many requests it sends at once; the CLI is not
 * limited. Here at its default, 10.
 */
let dir: string;
let env: Env;
let deps: CoreDeps;
const CLI: Actor = { kind: "system", name: "cli" };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-org-limit-"));
  env = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent" });
  deps = createDeps(env, { log: pino({ level: "silent" }) });
  await getAccounts(env).ready;
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function signUp(email: string): Promise<{ actor: Actor; headers: Headers }> {
  const auth = await getReadyAuth(env);
  const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: email.split("@")[0]! }, returnHeaders: true });
  return { actor: { kind: "user", userId: r.response.user.id, email }, headers: new Headers({ cookie: r.headers.get("set-cookie")!.split(";")[0]! }) };
}

const create = (p: { actor: Actor; headers: Headers }, slug: string) => createUserOrganization({ actor: p.actor, input: { name: slug, slug }, reqHeaders: p.headers }, deps);

describe("organizations per account", () => {
  it("defaults to 10", () => {
    expect(env.MAX_ORGS_PER_ACCOUNT).toBe(10);
    expect(() => parseEnv({ MAX_ORGS_PER_ACCOUNT: "0" })).toThrow(/MAX_ORGS_PER_ACCOUNT/);
  });

  it("20 creations at once by one account: exactly 10 orgs, the rest forbidden naming the limit; others and the CLI unaffected", async () => {
    const mallory = await signUp("mallory@limit.example.com");
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => create(mallory, `mal-${String(i).padStart(2, "0")}`)));
    const made = results.filter((r) => r.status === "fulfilled");
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as AppError] : []));
    expect(made).toHaveLength(10);
    expect(refused).toHaveLength(10);
    for (const e of refused) {
      expect(e).toBeInstanceOf(AppError);
      expect(e.code).toBe("forbidden");
      expect(e.message).toMatch(/at most 10 organizations/);
    }
    // Nothing half-made: 10 orgs on both sides, and no row for a refused slug.
    expect(await listMyOrganizations(mallory.actor, deps)).toHaveLength(10);
    expect((await deps.auth.listOrgs()).filter((o) => o.slug.startsWith("mal-"))).toHaveLength(10);
    // Later, one at a time: still refused.
    expect(await create(mallory, "mal-late").catch((e: AppError) => e.code)).toBe("forbidden");

    // Another account has its own 10; the operator's CLI is not limited.
    const ann = await signUp("ann@limit.example.com");
    expect((await create(ann, "ann-1")).slug).toBe("ann-1");
    for (let i = 0; i < 11; i++) await createOrganization({ actor: CLI, slug: `cli-${i}`, initialApiKey: false }, deps);
  });

  it("an org refused by Better Auth after our row was made gives its place back", async () => {
    const limited = parseEnv({ DATA_DIR: dir, LOG_LEVEL: "silent", MAX_ORGS_PER_ACCOUNT: "1" });
    const d = { ...deps, env: limited };
    const bea = await signUp("bea@limit.example.com");
    // No session cookie: Better Auth refuses, and the row is removed again.
    await expect(createUserOrganization({ actor: bea.actor, input: { name: "Half", slug: "bea-half" }, reqHeaders: new Headers() }, d)).rejects.toBeInstanceOf(AppError);
    expect((await createUserOrganization({ actor: bea.actor, input: { name: "Whole", slug: "bea-whole" }, reqHeaders: bea.headers }, d)).slug).toBe("bea-whole");
    expect(await createUserOrganization({ actor: bea.actor, input: { name: "Two", slug: "bea-two" }, reqHeaders: bea.headers }, d).catch((e: AppError) => [e.code, e.message])).toEqual([
      "forbidden",
      "An account can create at most 1 organization, and you have created 1; ask the operator of this service to raise the limit.",
    ]);
  });
});
