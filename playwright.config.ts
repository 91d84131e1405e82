import { defineConfig } from "@playwright/test";
import os from "node:os";
import path from "node:path";

// Debian's Chromium (npx playwright install cannot download browsers here); tests/run.sh installs it.
const port = Number(process.env.E2E_PORT ?? 8232);
process.env.E2E_PORT = String(port);
process.env.E2E_DATA_DIR ??= path.join(os.tmpdir(), `cm-e2e-${port}`);

export default defineConfig({
  testDir: "tests/e2e",
  // Playwright empties its outputDir at the start of a run: a subfolder, so the vitest reports
  // tests/run.sh wrote to test-results/ before this step survive for its closing summary.
  outputDir: "test-results/playwright",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"], ["json", { outputFile: "test-results/e2e.json" }]] : [["list"], ["json", { outputFile: "test-results/e2e.json" }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    },
  },
  projects: [
    { name: "api", testMatch: /api-.*\.spec\.ts/ },
    { name: "chromium", testMatch: /ui-.*\.spec\.ts/, use: { browserName: "chromium", viewport: { width: 1280, height: 800 } } },
    // Last: scans what the UI specs loaded (and the client chunks) for the secrets they typed.
    { name: "leaks", testMatch: /leak-check\.spec\.ts/, dependencies: ["chromium"] },
  ],
  webServer: {
    command: "node --conditions=react-server --import tsx tests/support/serve.ts",
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: !process.env.CI,
    // SIGTERM lets serve.ts stop next-server (its own process group); the default SIGKILL would
    // leave it holding the port, and the next local run would reuse a stale server.
    gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    timeout: 120_000,
    stdout: "pipe",
    env: { E2E_PORT: String(port), E2E_DATA_DIR: process.env.E2E_DATA_DIR },
  },
});
