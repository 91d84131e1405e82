import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeMailQueueContract } from "./mail-queue-contract";
import { SqliteMailQueue } from "./mail-queue-sqlite";

describeMailQueueContract("SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-mail-queue-"));
  const file = path.join(dir, "auth.sqlite");
  return { queue: new SqliteMailQueue(file), second: () => new SqliteMailQueue(file), dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});
