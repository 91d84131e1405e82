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
import { makeTestCa } from "../fakes/tls";

export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Fixed loopback ports for the cloud fakes. The server is pointed at them at start; each test file
 * starts the fakes it needs on these ports (and registers its own identities in them), since the
 * fakes must live in the test's process to be configured. Files run one at a time.
 */
export function cloudPorts(base: number) {
  return { gcp: base, oci: base + 1, aws: base + 2, azureAuthority: base + 3, azureManagement: base + 4, azureOpenai: base + 5, kms: base + 6, bigquery: base + 7, control: base + 8 };
}

/** Which Cipher and CredentialStore the server runs with: embedded defaults, or Cloud KMS + BigQuery (fakes). */
export type Backends = "local" | "gcp";
export const FAKE_KMS_KEY = "projects/finops-test/locations/global/keyRings/credentials/cryptoKeys/org-credentials";

export interface Stack {
  backends: Backends;
  /** The throwaway CA the server trusts (tests/fakes/tls.ts loadTestCa). */
  caDir: string;
  baseUrl: string;
  ports: ReturnType<typeof cloudPorts>;
  dataDir: string;
  logFile: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startStack(opts: { port: number; env?: Record<string, string>; cloudPortBase?: number; backends?: Backends }): Promise<Stack> {
  if (!fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    throw new Error("No Next build: run `npx next build` first (npm test does).");
  }
  const fakes = await startProviderFakes();
  const backends = opts.backends ?? "local";
  const portsEarly = cloudPorts(opts.cloudPortBase ?? opts.port + 100);
  const gcpBackends = backends === "gcp" ? await startGcpBackends(portsEarly) : null;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-stack-"));
  const logFile = path.join(dataDir, "server.log");
  const ports = cloudPorts(opts.cloudPortBase ?? opts.port + 100);
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    GOOGLE_OAUTH_TOKEN_URL: `${local(ports.gcp)}/token`,
    GOOGLE_CRM_API_BASE: local(ports.gcp),
    GOOGLE_BIGQUERY_API_BASE: local(ports.gcp),
    OCI_IDENTITY_ENDPOINT: local(ports.oci),
    OCI_USAGE_ENDPOINT: local(ports.oci),
    AZURE_AUTHORITY_HOST: `https://127.0.0.1:${ports.azureAuthority}`,
    AZURE_MANAGEMENT_BASE: `https://127.0.0.1:${ports.azureManagement}`,
    AZURE_OPENAI_ENDPOINT_OVERRIDE: `https://127.0.0.1:${ports.azureOpenai}`,
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
    ACCESS_RATE_LIMIT_PER_MINUTE: "30",
    LOG_LEVEL: "info",
    // Webhook receivers in the tests listen on loopback over http (lib/webhooks/ssrf.ts; tests only).
    WEBHOOK_ALLOW_PRIVATE: "1",
    ...(gcpBackends?.env ?? {}),
    ...opts.env,
  };
  // The Azure token service must speak HTTPS (MSAL refuses http authorities): a throwaway CA the
  // server trusts through NODE_EXTRA_CA_CERTS, written where the test files can load it.
  const ca = makeTestCa();
  const out = fs.openSync(logFile, "a");
  // The production server (lib/scripts/server.mjs: `next start` plus the socket address for the attempt budgets).
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "lib", "scripts", "server.mjs")], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: ca.caCertPath, PORT: String(opts.port), NODE_ENV: "production" },
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
    if (Date.now() > deadline) {
      // Never leave it behind holding the port (it runs in its own process group).
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
      throw new Error(`next start did not become healthy:\n${fs.readFileSync(logFile, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    backends,
    caDir: ca.dir,
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
      await gcpBackends?.close();
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

/**
 * The same, without blocking this process: use it when a fake served by this process must answer
 * the CLI (spawnSync would freeze the fake's event loop).
 */
export function runCliAsync(dataDir: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "lib/cli/index.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Create an org with the CLI and return its admin key. */
export function createOrg(dataDir: string, slug: string): string {
  const r = runCli(dataDir, ["orgs", "create", slug, "--json"]);
  if (r.status !== 0) throw new Error(`orgs create failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { api_key: string }).api_key;
}

export function createKey(dataDir: string, org: string, role: "admin" | "viewer" | "pipeline"): { api_key: string; key_id: string } {
  const r = runCli(dataDir, ["keys", "create", org, "--role", role, "--json"]);
  if (r.status !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { api_key: string; key_id: string };
}

/**
 * Cloud KMS and BigQuery fakes for `backends: "gcp"`, plus a small control server so tests in
 * another process can inject faults (POST /kms/inject, /bigquery/inject, /clear) and read what
 * BigQuery holds (GET /bigquery/dump) for leak checks.
 */
async function startGcpBackends(ports: ReturnType<typeof cloudPorts>) {
  const { startKmsFake } = await import("../fakes/kms");
  const { startBigQueryFake } = await import("../fakes/bigquery");
  const http = await import("node:http");
  const kms = await startKmsFake({ port: ports.kms });
  kms.createKey(FAKE_KMS_KEY);
  const bq = await startBigQueryFake({ port: ports.bigquery });
  const control = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
      const times = typeof body.times === "number" ? body.times : 1;
      try {
        if (req.url === "/kms/inject") kms.inject({ kind: body.kind as never, times: times >= 1000 ? Infinity : times, ...(body.method ? { method: body.method as never } : {}) });
        else if (req.url === "/bigquery/inject") bq.inject(body.fault as never, times, (body.target as never) ?? "any");
        else if (req.url === "/clear") {
          kms.clearFaults();
          bq.clearFaults();
        } else if (req.url === "/kms/rotate") {
          res.end(JSON.stringify({ version: kms.rotate(FAKE_KMS_KEY) }));
          return;
        } else if (req.url === "/bigquery/dump") {
          res.end(JSON.stringify({ requests: bq.requests.map((r) => r.rawBody ?? ""), rows: bq.rows() }));
          return;
        } else {
          res.statusCode = 404;
        }
        res.end("{}");
      } catch (e) {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(e) }));
      }
    });
  });
  await new Promise<void>((r) => control.listen(ports.control, "127.0.0.1", r));
  return {
    env: {
      KMS_BACKEND: "gcp",
      GCP_KMS_KEY: FAKE_KMS_KEY,
      GCP_KMS_ENDPOINT: kms.endpoint,
      CREDENTIAL_STORE: "bigquery",
      BIGQUERY_PROJECT: "finops-test",
      BIGQUERY_API_ENDPOINT: bq.url,
    },
    async close() {
      await new Promise((r) => control.close(r));
      await kms.close();
      await bq.close();
    },
  };
}

/** Tests' side of the control server (gcp backends only). */
export async function controlFakes(port: number, path: string, body: unknown = {}): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`fake control ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
