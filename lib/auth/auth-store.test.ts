import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeAuthStoreContract } from "./auth-store-contract";
import { SqliteAuthStore } from "./auth-store-sqlite";

describeAuthStoreContract("SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-auth-store-"));
  return { store: new SqliteAuthStore(path.join(dir, "data", "auth.sqlite")), dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

describe("SqliteAuthStore files", () => {
  it.skipIf(process.platform === "win32")("creates its directory 0700 and its file 0600, in WAL mode, and keeps rows across reopening", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-auth-store-"));
    const file = path.join(dir, "data", "auth.sqlite");
    try {
      const store = new SqliteAuthStore(file);
      const org = await store.createOrg("acme", "Acme", new Date());
      await store.close();
      expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const again = new SqliteAuthStore(file);
      expect(await again.getOrg("acme")).toEqual(org);
      await again.close();
      expect(fs.readFileSync(file).subarray(18, 20)).toEqual(Buffer.from([2, 2])); // WAL: file format versions 2/2
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
