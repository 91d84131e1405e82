import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";

/**
 * A throwaway certificate authority for HTTPS fakes, generated at run time with the `openssl` CLI
 * into a fresh temp directory (nothing is ever committed): a CA, and a server certificate signed by
 * it for `localhost`, `127.0.0.1` and `::1`.
 *
 * How a process comes to trust it:
 * - A child process (e.g. `next start` in the server-level tests): start it with
 *   `NODE_EXTRA_CA_CERTS=<caCertPath>`. Node reads that variable once, at start-up, and adds the CA
 *   to the default trust store used by node:https, node:tls and fetch.
 * - The current process (vitest): NODE_EXTRA_CA_CERTS can no longer take effect and Node 20 has no
 *   `tls.setDefaultCACertificates` (added in Node 22.15/23.5). `trustCaInProcess(certPem)` instead
 *   wraps `tls.createSecureContext`, which both node:https agents (the Azure SDK, MSAL) and the
 *   built-in fetch (undici) call for every TLS connection that is not given its own context: when
 *   the caller passed no `ca`, the CA is appended to Node's bundled root certificates. Callers that
 *   pass their own `ca` are left alone. It returns a function that restores the original.
 */

export interface TestCa {
  /** PEM file of the CA certificate (what NODE_EXTRA_CA_CERTS should point at). */
  caCertPath: string;
  /** The CA certificate, PEM. */
  caPem: string;
  /** The server certificate's private key, PEM (for https.createServer). */
  keyPem: string;
  /** The server certificate (signed by the CA), PEM. */
  certPem: string;
  /** The temp directory holding the files. */
  dir: string;
}

let cached: TestCa | null = null;

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Generates the CA and the server certificate (once per process; later calls return the same
 * files, which are deleted when the process exits). Keys are EC P-256: fast to generate and
 * accepted by Node's default security level. Needs the `openssl` CLI on PATH.
 */
export function makeTestCa(): TestCa {
  if (cached && fs.existsSync(cached.caCertPath)) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "finops-test-ca-"));
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
  ].join("\n");
  fs.writeFileSync(path.join(dir, "server.ext"), ext + "\n");

  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], dir);
  openssl(
    [
      "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
      "-subj", "/CN=FinOps credential manager test CA (throwaway)",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-out", "ca.pem",
    ],
    dir,
  );
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"], dir);
  openssl(["req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr"], dir);
  openssl(
    [
      "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem",
    ],
    dir,
  );
  // The CA key is not needed any more: nothing else can be signed with it.
  fs.rmSync(path.join(dir, "ca.key"), { force: true });
  fs.chmodSync(path.join(dir, "server.key"), 0o600);

  // The files go away when this process exits normally (a child started with NODE_EXTRA_CA_CERTS
  // read them at its start-up already). Vitest workers end without an "exit" event: call
  // removeTestCa() in afterAll / the global teardown.
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));

  const caCertPath = path.join(dir, "ca.pem");
  cached = {
    caCertPath,
    caPem: fs.readFileSync(caCertPath, "utf8"),
    keyPem: fs.readFileSync(path.join(dir, "server.key"), "utf8"),
    certPem: fs.readFileSync(path.join(dir, "server.pem"), "utf8"),
    dir,
  };
  return cached;
}

/** Deletes the temp directory of the cached CA (safe to call more than once). */
export function removeTestCa(): void {
  if (!cached) return;
  fs.rmSync(cached.dir, { recursive: true, force: true });
  cached = null;
}

type CreateSecureContext = typeof tls.createSecureContext;

/**
 * Makes this process trust `caPem` for TLS connections that use Node's default trust store (see the
 * file comment). Returns a function that undoes it. Nested calls stack and unwind in order.
 */
export function trustCaInProcess(caPem: string): () => void {
  const original: CreateSecureContext = tls.createSecureContext;
  const patched: CreateSecureContext = (options) => {
    if (options?.ca === undefined || options.ca === null) {
      return original({ ...options, ca: [...tls.rootCertificates, caPem] });
    }
    return original(options);
  };
  (tls as { createSecureContext: CreateSecureContext }).createSecureContext = patched;
  return () => {
    if (tls.createSecureContext === patched) {
      (tls as { createSecureContext: CreateSecureContext }).createSecureContext = original;
    }
  };
}

/** Loads a CA written earlier by makeTestCa into `dir` (another process made it). */
export function loadTestCa(dir: string): TestCa {
  const caCertPath = path.join(dir, "ca.pem");
  return {
    caCertPath,
    caPem: fs.readFileSync(caCertPath, "utf8"),
    keyPem: fs.readFileSync(path.join(dir, "server.key"), "utf8"),
    certPem: fs.readFileSync(path.join(dir, "server.pem"), "utf8"),
    dir,
  };
}
