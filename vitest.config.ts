import { defineConfig } from "vitest/config";
import path from "node:path";

const resolve = {
  alias: {
    // Vitest and the CLI are server contexts: "server-only" is a no-op there.
    "server-only": path.resolve(__dirname, "tests/support/empty-module.ts"),
    "@": path.resolve(__dirname),
  },
};

export default defineConfig({
  resolve,
  test: {
    environment: "node",
    testTimeout: 20_000,
    projects: [
      {
        resolve,
        test: { name: "unit", include: ["lib/**/*.test.ts", "actions/**/*.test.ts"], pool: "forks", testTimeout: 20_000 },
      },
      {
        resolve,
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts"],
          globalSetup: ["tests/support/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        resolve,
        test: {
          // The attack suite (docs/security.md): each test performs an attack over HTTP against the
          // built server, with real sessions and real server actions.
          name: "security",
          include: ["tests/security/**/*.test.ts"],
          globalSetup: ["tests/security/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
