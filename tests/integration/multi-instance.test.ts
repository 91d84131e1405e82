import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { runCliAsync, startStack, type Stack } from "../support/stack";
import { freshAddress, newPerson, PASSWORD, signInFrom } from "../security/auth-support";
import { waitFor } from "../support/wait";

/**
 * Two instances behind a load balancer (docs/security.md, "Several instances"): two built servers
 * (`next start`) on one Postgres (AUTH_DATABASE_URL) and one store (a shared DATA_DIR: SQLite
 * credential store, key ring, pepper). A delete on one stops the other serving the credential
 * through …/access within a second (LISTEN/NOTIFY; the cache TTL is 5 minutes); budgets of N per
 * minute hold across both, and so does the sign-in failure backoff; each scheduled re-validation
 * round runs on exactly one of them.
 *
 * Needs a Postgres: `npm test` (tests/run.sh) starts a throwaway one and exports
 * AUTH_TEST_DATABASE_URL. Runs in the first integration pass only (not again with STACK_BACKENDS=gcp).
 */
const BASE_URL = process.env.AUTH_TEST_DATABASE_URL;
const RUN = Boolean(BASE_URL) && process.env.STACK_BACKENDS !== "gcp";
const N = 6;

async function call(base: string, method: string, p: string, key: string, body?: unknown) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { "x-api-key": key, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : null, text };
}

describe.skipIf(!RUN)("two instances on one Postgres and one store", () => {
  let a: Stack;
  let b: Stack;
  let dbUrl = "";
  const dbName = `cm_multi_${process.pid}`;
  let dataDir = "";
  const cli = async (args: string[]) => {
    const r = await runCliAsync(dataDir, args, { AUTH_DATABASE_URL: dbUrl });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, any>;
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-multi-"));
    // A database of its own, so nothing from the other Postgres suites is shared.
    const admin = new Client({ connectionString: BASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(BASE_URL!);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
    // The shared DATA_DIR's key ring and pepper are made once, before either server starts.
    await cli(["kms", "status", "--json"]);
    const env = { DATA_DIR: dataDir, AUTH_DATABASE_URL: dbUrl, ORG_RATE_LIMIT_PER_MINUTE: String(N), ACCESS_RATE_LIMIT_PER_MINUTE: String(N), VALIDATE_EVERY: "10s" };
    [a, b] = await Promise.all([
      startStack({ port: 8251, cloudPortBase: 8451, env }),
      startStack({ port: 8252, cloudPortBase: 8471, env }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    const admin = new Client({ connectionString: BASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("a delete on one instance stops the other serving the credential within a second", async () => {
    const made = await cli(["orgs", "create", "multi-del", "--json"]);
    const adminKey = made.api_key as string;
    const pipe = (await cli(["keys", "create", "multi-del", "--role", "pipeline", "--json"])).api_key as string;
    const setup = await call(a.baseUrl, "POST", "/integrations/multi-del/openai/setup", adminKey, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } });
    expect(setup.status, setup.text).toBe(201);
    // B decrypts and caches it (the cache TTL is 5 minutes).
    for (let i = 0; i < 2; i++) {
      const r = await call(b.baseUrl, "POST", "/integrations/multi-del/openai/access", pipe);
      expect(r.status, r.text).toBe(200);
      expect(r.body!.credentials.api_key).toBe(FAKE_OPENAI_ADMIN_KEY);
    }
    expect((await call(a.baseUrl, "DELETE", "/integrations/multi-del/openai", adminKey)).status).toBe(204);
    const deletedAt = Date.now();
    let last = 200;
    // The decrypt cache keeps an entry 5 minutes: a 404 within seconds can only come from the
    // invalidation notice. No bound on the time itself (tests never fail on a time); it is printed.
    while (Date.now() - deletedAt < 10_000) {
      last = (await call(b.baseUrl, "POST", "/integrations/multi-del/openai/access", pipe)).status;
      if (last === 404) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const tookMs = Date.now() - deletedAt;
    console.info(`delete on A → 404 from B after ${tookMs} ms`);
    expect(last).toBe(404);
    // A replacement set up on B is what A serves next (A had nothing cached after its own delete).
    const again = await call(b.baseUrl, "POST", "/integrations/multi-del/openai/setup", adminKey, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } });
    expect(again.status, again.text).toBe(201);
    const onA = await call(a.baseUrl, "POST", "/integrations/multi-del/openai/access", pipe);
    expect(onA.status).toBe(200);
    expect(onA.body!.fingerprint).toBe(again.body!.fingerprint);
  });

  it(`budgets of ${N} per minute hold across both instances (org setup/validate budget; per pipeline key access budget)`, async () => {
    const made = await cli(["orgs", "create", "multi-budget", "--json"]);
    const adminKey = made.api_key as string;
    const pipe = (await cli(["keys", "create", "multi-budget", "--role", "pipeline", "--json"])).api_key as string;
    expect((await call(a.baseUrl, "POST", "/integrations/multi-budget/openai/setup", adminKey, { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } })).status).toBe(201);
    const validates: number[] = [];
    for (let i = 0; i < 2 * N; i++) {
      validates.push((await call(i % 2 ? b.baseUrl : a.baseUrl, "POST", "/integrations/multi-budget/openai/validate", adminKey)).status);
    }
    // The setup spent one unit: N - 1 validates pass in total, on both together; the rest are 429.
    expect(validates.filter((s) => s === 200)).toHaveLength(N - 1);
    expect(validates.filter((s) => s === 429)).toHaveLength(N + 1);
    expect(validates.slice(0, N - 1).every((s) => s === 200)).toBe(true);

    const accesses: number[] = [];
    for (let i = 0; i < 2 * N; i++) accesses.push((await call(i % 2 ? b.baseUrl : a.baseUrl, "POST", "/integrations/multi-budget/openai/access", pipe)).status);
    expect(accesses.filter((s) => s === 200)).toHaveLength(N);
    expect(accesses.slice(N).every((s) => s === 429)).toBe(true);
  });

  it("a password guesser alternating between the instances gets the tries one instance gives (6), then both refuse; the owner signs in on either", async () => {
    const owner = await newPerson(a.baseUrl);
    const attacker = freshAddress();
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) answers.push((await signInFrom(i % 2 ? b.baseUrl : a.baseUrl, attacker, owner.email, `wrong password ${i}`)).value?.error);
    expect(answers.slice(0, 6)).toEqual(Array(6).fill("Wrong email or password."));
    expect(answers.slice(6).every((x) => /Too many failed sign-ins; try again in \d+ (s|min)\./.test(x))).toBe(true);
    // The right password from the attacker's machine is refused on both; the owner's machine is not.
    for (const s of [a, b]) expect((await signInFrom(s.baseUrl, attacker, owner.email, PASSWORD)).cookie).toBeNull();
    expect((await signInFrom(b.baseUrl, owner.from, owner.email, PASSWORD)).cookie).not.toBeNull();
  });

  it("each scheduled re-validation round (VALIDATE_EVERY=10s) runs on exactly one instance", async () => {
    const started = () => {
      const rounds: number[] = [];
      for (const s of [a, b]) {
        for (const line of fs.readFileSync(s.logFile, "utf8").split("\n")) {
          if (!line.includes("scheduled re-validation round started")) continue;
          rounds.push((JSON.parse(line) as { round: number }).round);
        }
      }
      return rounds;
    };
    // Rounds come every 10 s of the servers' clocks: wait for two, however slow the machine.
    await waitFor(() => new Set(started()).size >= 2, "two scheduled re-validation rounds", 60_000);
    const rounds = started();
    expect(new Set(rounds).size).toBeGreaterThanOrEqual(2);
    expect(rounds.length).toBe(new Set(rounds).size); // no round twice
    const finished = await waitFor(() => {
      const lines = [a, b].flatMap((s) => fs.readFileSync(s.logFile, "utf8").split("\n").filter((l) => l.includes("scheduled re-validation round finished")));
      return lines.length >= 1 && lines;
    }, "a finished re-validation round");
    expect(finished.length).toBeGreaterThanOrEqual(1);
    // Nothing secret in either log.
    for (const s of [a, b]) expect(fs.readFileSync(s.logFile, "utf8")).not.toContain(FAKE_OPENAI_ADMIN_KEY);
  }, 90_000);
});
