import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { createCredentialStore } from "./index";
import { SqliteCredentialStore } from "./sqlite";
import { StoreConflictError, StoreUnavailableError, type CredentialRow } from "./store";
import { describeCredentialStoreContract } from "./store-contract";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "cred-store-"));
}

describeCredentialStoreContract("sqlite", async () => {
  const dir = tempDir();
  const store = new SqliteCredentialStore({ file: path.join(dir, "credentials.sqlite") });
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

function row(overrides: Partial<CredentialRow> = {}): CredentialRow {
  return {
    org: "org-a",
    provider: "aws",
    credentialId: "cred-1",
    ciphertext: randomBytes(48),
    keyRef: "local:k1",
    keyVersion: "k1",
    fingerprint: "a1b2c3d4",
    status: "active",
    keyKind: null,
    metadata: { label: "x" },
    account: null,
    version: 1,
    createdAt: "2026-01-02T03:04:05.000Z",
    updatedAt: "2026-01-02T03:04:05.000Z",
    lastValidatedAt: null,
    lastError: null,
    ...overrides,
  };
}

describe("SqliteCredentialStore", () => {
  let dir: string;
  const open: SqliteCredentialStore[] = [];

  function openStore(file = path.join(dir, "credentials.sqlite"), busyTimeoutMs?: number): SqliteCredentialStore {
    const store = new SqliteCredentialStore({ file, busyTimeoutMs });
    open.push(store);
    return store;
  }

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes only what it is given: a canary that was never stored is absent from the db and WAL files", async () => {
    const file = path.join(dir, "credentials.sqlite");
    const store = openStore(file);
    const canary = `CANARY-never-stored-${randomBytes(8).toString("hex")}`;
    const orgMarker = `org-marker-${randomBytes(8).toString("hex")}`;
    const ciphertext = randomBytes(256);
    await store.put(row({ org: orgMarker, ciphertext, metadata: { label: "x" } }), null);
    await store.update(orgMarker, "aws", 1, { status: "invalid" });

    const files = [file, `${file}-wal`].filter((f) => fs.existsSync(f));
    const raw = Buffer.concat(files.map((f) => fs.readFileSync(f)));
    // Positive controls: the scan really sees what was written.
    expect(raw.includes(Buffer.from(orgMarker))).toBe(true);
    expect(raw.includes(ciphertext)).toBe(true);
    // The canary (in any common encoding) was never given to the store, so it is nowhere on disk.
    for (const form of [canary, Buffer.from(canary).toString("base64"), Buffer.from(canary).toString("hex")]) {
      expect(raw.includes(Buffer.from(form))).toBe(false);
    }
  });

  it("creates the database file with mode 0600 (WAL too) and a missing parent directory with mode 0700", async () => {
    const file = path.join(dir, "nested", "data", "credentials.sqlite");
    const store = openStore(file);
    await store.put(row(), null);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
    expect(fs.statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
  });

  it("tightens an existing database file to mode 0600", async () => {
    const file = path.join(dir, "credentials.sqlite");
    openStore(file);
    await open.pop()!.close();
    fs.chmodSync(file, 0o644);
    openStore(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("uses WAL mode and records the schema version once, even when opened twice", async () => {
    const file = path.join(dir, "credentials.sqlite");
    openStore(file);
    openStore(file);
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(raw.prepare("SELECT version FROM schema_migrations").all()).toStrictEqual([{ version: 1 }]);
    } finally {
      raw.close();
    }
  });

  it("stores JSON columns as JSON text and ciphertext as a BLOB", async () => {
    const file = path.join(dir, "credentials.sqlite");
    const store = openStore(file);
    const r = row({ account: { id: "42" }, lastError: { code: "E", message: "m", at: "t" } });
    await store.put(r, null);
    const raw = new Database(file, { readonly: true });
    try {
      const stored = raw
        .prepare(
          "SELECT typeof(ciphertext) AS ct, metadata, account, last_error FROM org_integration_credentials",
        )
        .get();
      expect(stored).toStrictEqual({
        ct: "blob",
        metadata: '{"label":"x"}',
        account: '{"id":"42"}',
        last_error: '{"code":"E","message":"m","at":"t"}',
      });
    } finally {
      raw.close();
    }
  });

  it("a second store instance on the same file sees committed rows and conflicts correctly", async () => {
    const file = path.join(dir, "credentials.sqlite");
    const server = openStore(file);
    const cli = openStore(file);

    const r = row();
    await server.put(r, null);
    expect(await cli.get("org-a", "aws")).toStrictEqual(r);

    await cli.update("org-a", "aws", 1, { status: "expired" });
    expect((await server.get("org-a", "aws"))!.status).toBe("expired");

    const v2 = row({ ciphertext: randomBytes(48), version: 2 });
    const results = await Promise.allSettled([server.put(v2, 1), cli.put(row({ version: 2 }), 1)]);
    expect(results.filter((x) => x.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((x) => x.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(StoreConflictError);

    expect(await cli.delete("org-a", "aws", 2)).toBe(true);
    expect(await server.get("org-a", "aws")).toBeNull();
  });

  it("a path under a regular file → StoreUnavailableError with a fixed message", () => {
    const blocker = path.join(dir, "blocker");
    fs.writeFileSync(blocker, "not a directory");
    const file = path.join(blocker, "sub", "credentials.sqlite");
    let caught: unknown;
    try {
      openStore(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreUnavailableError);
    expect((caught as Error).message).toBe("The SQLite credential store could not be opened.");
    expect((caught as Error).message).not.toContain(blocker);
  });

  it("a file that is not a SQLite database → StoreUnavailableError", () => {
    const file = path.join(dir, "credentials.sqlite");
    fs.writeFileSync(file, randomBytes(8192));
    expect(() => openStore(file)).toThrow(StoreUnavailableError);
  });

  it("a closed store → StoreUnavailableError on every call, with no row data in the error", async () => {
    const store = openStore();
    await store.put(row({ org: "secret-org" }), null);
    await store.close();
    const calls: Array<() => Promise<unknown>> = [
      () => store.get("secret-org", "aws"),
      () => store.listByOrg("secret-org"),
      () => store.put(row({ org: "secret-org", provider: "gcp" }), null),
      () => store.update("secret-org", "aws", 1, { status: "invalid" }),
      () => store.delete("secret-org", "aws"),
      () => store.delete("secret-org", "aws", 1),
      () => store.listPage({ limit: 5 }),
      () => store.ping(),
    ];
    for (const call of calls) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toBe("The SQLite credential store is unavailable.");
      expect((err as Error).message).not.toContain("secret-org");
    }
    await expect(store.close()).resolves.toBeUndefined();
  });

  it("a write lock held past the busy timeout → StoreUnavailableError and nothing is written", async () => {
    const file = path.join(dir, "credentials.sqlite");
    const store = openStore(file, 50);
    await store.put(row(), null);
    const locker = new Database(file);
    try {
      locker.exec("BEGIN IMMEDIATE");
      await expect(store.put(row({ provider: "gcp" }), null)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.update("org-a", "aws", 1, { status: "invalid" })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      // Readers are not blocked by a writer in WAL mode.
      expect((await store.get("org-a", "aws"))!.status).toBe("active");
      locker.exec("ROLLBACK");
    } finally {
      locker.close();
    }
    expect(await store.get("org-a", "gcp")).toBeNull();
    await store.put(row({ provider: "gcp" }), null);
  });

  it("an invalid status is rejected by the schema (not reported as a conflict) and nothing is written", async () => {
    const store = openStore();
    const bad = { ...row(), status: "bogus" } as unknown as CredentialRow;
    const err = await store.put(bad, null).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(StoreConflictError);
    expect(await store.get("org-a", "aws")).toBeNull();
  });

  it("update refuses fields that only a replacement may change", async () => {
    const store = openStore();
    await store.put(row(), null);
    const patch = { version: 7, org: "org-b" } as unknown as Parameters<SqliteCredentialStore["update"]>[3];
    await expect(store.update("org-a", "aws", 1, patch)).rejects.toThrow(TypeError);
    const got = await store.get("org-a", "aws");
    expect(got!.version).toBe(1);
    expect(got!.org).toBe("org-a");
  });

  it("a patch that cannot be serialised fails without changing the row", async () => {
    const store = openStore();
    const r = row();
    await store.put(r, null);
    // A JSON value that cannot be serialised fails inside the write path.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(
      store.update("org-a", "aws", 1, { status: "invalid", metadata: cyclic }),
    ).rejects.toThrow();
    expect(await store.get("org-a", "aws")).toStrictEqual(r);
  });
});

describe("createCredentialStore", () => {
  it("opens <dataDir>/credentials.sqlite for the sqlite backend", async () => {
    const dir = tempDir();
    try {
      const store = createCredentialStore({ backend: "sqlite", dataDir: path.join(dir, "data") });
      try {
        expect(store.backend).toBe("sqlite");
        await store.ping();
        expect(fs.existsSync(path.join(dir, "data", "credentials.sqlite"))).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bigquery needs BIGQUERY_PROJECT", () => {
    expect(() => createCredentialStore({ backend: "bigquery", dataDir: "/nonexistent" })).toThrow("CREDENTIAL_STORE=bigquery needs BIGQUERY_PROJECT");
  });
});
