import type { TestProject } from "vitest/node";
import { startStack } from "../support/stack";

/**
 * The attack suite's server: the built app + provider fakes, exactly as the integration suite
 * starts it (tests/support/stack.ts), on its own ports (SECURITY_PORT, default 8241; cloud fakes on
 * 8341-8349), embedded defaults (SQLite + local key ring). Provides the same context keys as
 * tests/support/global-setup.ts, so tests/support/api.ts works here too.
 */
export default async function setup(project: TestProject) {
  const port = Number(process.env.SECURITY_PORT ?? 8241);
  const stack = await startStack({ port, backends: "local" });
  project.provide("backends", stack.backends);
  project.provide("caDir", stack.caDir);
  project.provide("baseUrl", stack.baseUrl);
  project.provide("dataDir", stack.dataDir);
  project.provide("logFile", stack.logFile);
  project.provide("ports", stack.ports);
  return async () => {
    await stack.stop();
  };
}
