import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeWebhookStoreContract } from "./webhook-store-contract";
import { SqliteWebhookStore } from "./webhook-store-sqlite";

describeWebhookStoreContract("SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-webhook-store-"));
  return { store: new SqliteWebhookStore(path.join(dir, "auth.sqlite")), dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});
