import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEnv } from "../env";
import { createDeps } from "../deps";
import { getReadyAuth, lookupMembership } from "./accounts";
import { authorizeOrgOrThrow } from "./authorize";
import { createUserOrganization } from "./org-accounts";

/**
 * AUTH_DATABASE_URL: Better Auth's tables in Postgres (a pg Pool). Runs only when
 * AUTH_TEST_DATABASE_URL names an empty database it may write to, and says so when skipped.
 */
const url = process.env.AUTH_TEST_DATABASE_URL;

describe.skipIf(!url)("accounts on Postgres (AUTH_TEST_DATABASE_URL)", () => {
  it("migrates (twice, idempotently), signs up, creates an org and looks the membership up", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-pg-accounts-"));
    const env = parseEnv({ DATA_DIR: dir, AUTH_DATABASE_URL: url, LOG_LEVEL: "silent" });
    const deps = createDeps(env);
    const auth = await getReadyAuth(env);
    const email = `pg-${Date.now()}@example.com`;
    const r = await auth.api.signUpEmail({ body: { email, password: "a long enough password", name: "Pg" }, returnHeaders: true });
    const headers = new Headers({ cookie: r.headers.get("set-cookie")!.split(";")[0]! });
    const actor = { kind: "user" as const, userId: r.response.user.id, email };
    const slug = `pg-${Date.now().toString(36)}`;
    await createUserOrganization({ actor, input: { name: "Pg Org", slug }, reqHeaders: headers }, deps);
    expect(await lookupMembership(env, actor.userId, slug)).toBe("owner");
    expect(await authorizeOrgOrThrow(deps, actor, slug, "write")).toMatchObject({ slug });
    // The org row and its keys are in Postgres too: nothing auth-related is left in DATA_DIR.
    expect(deps.auth.backend).toBe("postgres");
    expect(fs.existsSync(path.join(dir, "auth.sqlite"))).toBe(false);
    await deps.auth.close();
    await deps.store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

if (!url) console.log("accounts-postgres: skipped (set AUTH_TEST_DATABASE_URL=postgres://… to run against a real Postgres)");
