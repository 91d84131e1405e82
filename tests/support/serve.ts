/**
 * Playwright's webServer: provider fakes + the built app on E2E_PORT with DATA_DIR=E2E_DATA_DIR.
 * Stays up until Playwright stops it.
 */
import fs from "node:fs";
import { startStack } from "./stack";

async function main() {
  const port = Number(process.env.E2E_PORT ?? 8232);
  const dataDir = process.env.E2E_DATA_DIR;
  if (!dataDir) throw new Error("E2E_DATA_DIR is required");
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stack = await startStack({ port, env: { DATA_DIR: dataDir } });
  process.stdout.write(`e2e stack up at ${stack.baseUrl} (data ${dataDir})\n`);
  const stop = async () => {
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
