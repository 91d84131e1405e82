import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describeAuditStoreContract } from "./audit-store-contract";
import { SqliteAuditStore } from "./audit-store-sqlite";

describeAuditStoreContract("SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-audit-store-"));
  const file = path.join(dir, "data", "auth.sqlite");
  const key = crypto.randomBytes(32);
  const opened: SqliteAuditStore[] = [];
  const store = new SqliteAuditStore(file, key);
  return {
    store,
    key,
    async raw(sql, params = []) {
      const db = new Database(file);
      try {
        db.pragma("busy_timeout = 5000");
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    },
    another() {
      const s = new SqliteAuditStore(file, key);
      opened.push(s);
      return s;
    },
    async dispose() {
      for (const s of opened) await s.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
