/**
 * Starts what the integration and e2e suites talk to: the provider fakes, then the built Next
 * server (`next start`) with DATA_DIR in a temp dir and every provider endpoint pointed at a fake.
 * The server runs in its own process group (killing `next start` alone leaves next-server holding
 * the port) and its stdout/stderr go to a log file the leak tests read.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startProviderFakes } from "../fakes";
import { FAKE_AWS_PLATFORM_ENV } from "../fakes/aws-keys";

export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Fixed loopback ports for the cloud fakes. The server is pointed at them at start; each test file
 * starts the fakes it needs on these ports (and registers its own identities in them), since the
 * fakes must live in the test's process to be configured. Files run one at a time.
 */
export function cloudPorts(base: number) {
  return { gcp: base, oci: base + 1, aws: base + 2, azureAuthority: base + 3, azureManagement: base + 4, azureOpenai: base + 5, kms: base + 6, bigquery: base + 7 };
}

export interface Stack {
  baseUrl: string;
  ports: ReturnType<typeof cloudPorts>;
  dataDir: string;
  logFile: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startStack(opts: { port: number; env?: Record<string, string>; cloudPortBase?: number }): Promise<Stack> {
  if (!fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    throw new Error("No Next build: run `npx next build` first (npm test does).");
  }
  const fakes = await startProviderFakes();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-stack-"));
  const logFile = path.join(dataDir, "server.log");
  const ports = cloudPorts(opts.cloudPortBase ?? opts.port + 100);
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    GOOGLE_OAUTH_TOKEN_URL: `${local(ports.gcp)}/token`,
    GOOGLE_CRM_API_BASE: local(ports.gcp),
    OCI_IDENTITY_ENDPOINT: local(ports.oci),
    OCI_USAGE_ENDPOINT: local(ports.oci),
    AWS_STS_ENDPOINT: local(ports.aws),
    AWS_CE_ENDPOINT: local(ports.aws),
    AWS_BEDROCK_ENDPOINT: local(ports.aws),
    // The platform's own AWS identity (the fake's platform account), used to assume customers' roles.
    ...FAKE_AWS_PLATFORM_ENV,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    OPENAI_API_BASE: fakes.openai.url,
    ANTHROPIC_API_BASE: fakes.anthropic.url,
    GEMINI_API_BASE: fakes.gemini.url,
    CONNECTION_TEST_TIMEOUT_MS: "1500",
    ORG_RATE_LIMIT_PER_MINUTE: "40",
    LOG_LEVEL: "info",
    ...opts.env,
  };
  const out = fs.openSync(logFile, "a");
  const child: ChildProcess = spawn(path.join(ROOT, "node_modules", ".bin", "next"), ["start", "-p", String(opts.port)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(opts.port), NODE_ENV: "production" },
    stdio: ["ignore", out, out],
    detached: true,
  });
  const baseUrl = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${fs.readFileSync(logFile, "utf8")}`);
    try {
      const r = await fetch(`${baseUrl}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`next start did not become healthy:\n${fs.readFileSync(logFile, "utf8")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    ports,
    dataDir,
    logFile,
    env,
    async stop() {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 300));
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
      fs.closeSync(out);
      await fakes.close();
    },
  };
}

/** Run the CLI against a DATA_DIR exactly as a person would (`npm run cli -- …`). */
export function runCli(dataDir: string, args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "lib/cli/index.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", ...extraEnv },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Create an org with the CLI and return its admin key. */
export function createOrg(dataDir: string, slug: string): string {
  const r = runCli(dataDir, ["orgs", "create", slug, "--json"]);
  if (r.status !== 0) throw new Error(`orgs create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { api_key: string }).api_key;
}

export function createKey(dataDir: string, org: string, role: "admin" | "viewer"): { api_key: string; key_id: string } {
  const r = runCli(dataDir, ["keys", "create", org, "--role", role, "--json"]);
  if (r.status !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { api_key: string; key_id: string };
}
