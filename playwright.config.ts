import { defineConfig } from "@playwright/test";
import os from "node:os";
import path from "node:path";

// Debian's Chromium (npx playwright install cannot download browsers here); tests/run.sh installs it.
const port = Number(process.env.E2E_PORT ?? 8232);
process.env.E2E_PORT = String(port);
process.env.E2E_DATA_DIR ??= path.join(os.tmpdir(), `cm-e2e-${port}`);

export default defineConfig({
  testDir: "tests/e2e",
  outputDir: "test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
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
  ],
  webServer: {
    command: "node --conditions=react-server --import tsx tests/support/serve.ts",
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: "pipe",
    env: { E2E_PORT: String(port), E2E_DATA_DIR: process.env.E2E_DATA_DIR },
  },
});
