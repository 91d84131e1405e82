import "server-only";

// Types only at module load: @google-cloud/kms + google-gax take ~250 ms to load, and the local
// backend never needs them. They are imported on first use (loadKmsModules).
import type { KeyManagementServiceClient, protos } from "@google-cloud/kms";
import type { CallOptions, ClientOptions } from "google-gax";
import { buildAad, CipherError, type AadContext, type Cipher, type DecryptResult, type EncryptResult } from "./cipher";
import { crc32c, readCrc32c } from "./crc32c";

/**
 * The `gcp` Cipher backend: Cloud KMS symmetric Encrypt/Decrypt, called directly (credentials are
 * far below the 64 KiB limit, so envelope encryption would save nothing).
 *
 *  - The AAD is `buildAad(ctx)`: a ciphertext moved to another org, provider or credential id
 *    fails to decrypt (INVALID_ARGUMENT from KMS → `decrypt_failed`).
 *  - Every CRC32C field is sent and checked (Google's data-integrity guidelines): the request
 *    checksums, the `verified*` flags, the response checksums, and `EncryptResponse.name` (the
 *    CryptoKeyVersion actually used must belong to the configured key). A checksum mismatch or a
 *    missing `verified*` flag discards the response and retries, at most `maxAttempts` calls in
 *    all, then fails closed (`unavailable`). A foreign `name` is not transient: `misconfigured`
 *    at once, ciphertext discarded.
 *  - UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are retried the same bounded way with
 *    jittered exponential backoff. google-gax's own retries are switched off (`retry: null`) so
 *    every attempt is counted here; each call has its own deadline (`callTimeoutMs`).
 *  - Decrypt names the CryptoKey, not a version: KMS infers the version from the ciphertext. The
 *    DecryptResponse does not say which version that was, only `usedPrimary`; so `keyVersion`
 *    on decrypt is the CryptoKey name.
 *  - Plaintext never appears in an error message, and errors carry no `cause`.
 */

/** projects/…/locations/…/keyRings/…/cryptoKeys/… (the same shape lib/env.ts accepts). */
export const GCP_KMS_KEY_RE = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
/** EncryptRequest.plaintext limit for SOFTWARE keys (HSM keys: 8 KiB for plaintext + AAD). */
export const KMS_MAX_PLAINTEXT_BYTES = 64 * 1024;

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_RETRY_BASE_MS = 100;
const DEFAULT_RETRY_MAX_MS = 2_000;
const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/** However configured, an operation never makes more calls than this. */
const MAX_ATTEMPTS_CAP = 10;

// gRPC status codes (numeric, as google-gax reports them).
const Status = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

const RETRYABLE_STATUS = new Set<number>([Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED, Status.DEADLINE_EXCEEDED]);

const DECRYPT_FAILED_MESSAGE =
  "The stored credential could not be decrypted by Cloud KMS (tampered, moved to another row, or encrypted under another key).";

export interface GcpKmsCipherOptions {
  /** The CryptoKey: projects/…/locations/…/keyRings/…/cryptoKeys/… (GCP_KMS_KEY). */
  keyName: string;
  /**
   * `host:port` of a KMS gRPC endpoint spoken to without TLS and without Google credentials
   * (GCP_KMS_ENDPOINT: tests, emulators). Ignored when `client` is given.
   */
  endpoint?: string;
  /** An injected client (its owner closes it). Default: one built from `endpoint` or Google's defaults. */
  client?: KeyManagementServiceClient;
  /** Calls per operation in all, first one included (default 3, at most 10). */
  maxAttempts?: number;
  /** Backoff before retry n is drawn from [b·2^(n-1)/2, b·2^(n-1)], capped at retryMaxMs (default 100). */
  retryBaseMs?: number;
  /** Backoff cap (default 2000). */
  retryMaxMs?: number;
  /** Deadline of each call (default 10 s). */
  callTimeoutMs?: number;
}

/** "host:port" or "[v6]:port" → the parts the client wants. */
export function parseKmsEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new CipherError("misconfigured", `GCP_KMS_ENDPOINT must be host:port (no scheme), got ${JSON.stringify(endpoint)}.`);
  }
  return { host: m[1] as string, port };
}

interface KmsModules {
  KeyManagementServiceClient: typeof KeyManagementServiceClient;
  /** The grpc-js copy google-gax itself uses: a second copy fails grpc-js's `instanceof
   *  ChannelCredentials` check ("Channel credentials must be a ChannelCredentials object"). */
  grpc: typeof import("google-gax").grpc;
}

let kmsModules: Promise<KmsModules> | undefined;

function loadKmsModules(): Promise<KmsModules> {
  kmsModules ??= Promise.all([import("@google-cloud/kms"), import("google-gax")]).then(([kms, gax]) => ({
    KeyManagementServiceClient: kms.KeyManagementServiceClient,
    grpc: gax.grpc,
  }));
  return kmsModules;
}

/**
 * Client options for a local KMS endpoint (a fake or an emulator), with no network access
 * beyond that endpoint:
 *  - `sslCreds: insecure` — gax returns it as the channel credentials as is: no TLS, and no
 *    Google call credentials (so no OAuth token is fetched or sent).
 *  - `universeDomain: "googleapis.com"` — gax's createStub asks `auth.getUniverseDomain()`;
 *    with the domain configured, GoogleAuth answers from its options and never runs ADC
 *    discovery (which could probe the GCE metadata server at 169.254.169.254).
 *  - `fallback: false` — gRPC, not REST.
 */
export async function kmsClientOptionsForEndpoint(endpoint: string): Promise<ClientOptions> {
  const { host, port } = parseKmsEndpoint(endpoint);
  const { grpc } = await loadKmsModules();
  return {
    apiEndpoint: host,
    port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
    fallback: false,
  };
}

/** Response corruption: discard and retry (bounded). */
class IntegrityError extends Error {}

type Operation = "encrypt" | "decrypt" | "getCryptoKey";

function grpcCode(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined;
  const c = (e as { code: unknown }).code;
  return typeof c === "number" ? c : undefined;
}

/**
 * The server's error text, made safe to quote: Cloud KMS messages name resources and fields,
 * never request data. Printable ASCII only, bounded length.
 */
function serverDetails(e: unknown): string {
  if (typeof e !== "object" || e === null) return "";
  const raw = (e as { details?: unknown; message?: unknown }).details ?? (e as { message?: unknown }).message;
  if (typeof raw !== "string") return "";
  const clean = raw.replace(/[^\x20-\x7e]+/g, " ").trim();
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}

function statusLabel(code: number): string {
  return STATUS_NAMES[code] ?? `status ${code}`;
}

function toBuffer(v: Uint8Array | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return Buffer.from(v, "base64");
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** `v` within [min, max]; the default when missing or not a finite number. */
function clamp(v: number | undefined, def: number, min: number, max: number): number {
  const n = v !== undefined && Number.isFinite(v) ? v : def;
  return Math.min(max, Math.max(min, n));
}

function isEnum(v: unknown, name: string, num: number): boolean {
  return v === name || v === num;
}

export class GcpKmsCipher implements Cipher {
  readonly backend = "gcp" as const;
  readonly keyName: string;
  readonly #versionPrefix: string;
  readonly #endpoint: string | undefined;
  readonly #ownsClient: boolean;
  #client: KeyManagementServiceClient | undefined;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #callTimeoutMs: number;

  constructor(opts: GcpKmsCipherOptions) {
    if (!opts.keyName) throw new CipherError("misconfigured", "GCP_KMS_KEY is required when KMS_BACKEND=gcp.");
    if (!GCP_KMS_KEY_RE.test(opts.keyName)) {
      throw new CipherError(
        "misconfigured",
        `GCP_KMS_KEY must be a CryptoKey name projects/…/locations/…/keyRings/…/cryptoKeys/…, got ${JSON.stringify(opts.keyName)}.`,
      );
    }
    this.keyName = opts.keyName;
    this.#versionPrefix = `${opts.keyName}/cryptoKeyVersions/`;
    if (opts.endpoint !== undefined && !opts.client) parseKmsEndpoint(opts.endpoint); // fail at startup, not first use
    this.#endpoint = opts.endpoint;
    this.#client = opts.client;
    this.#ownsClient = !opts.client;
    this.#maxAttempts = Math.floor(clamp(opts.maxAttempts, DEFAULT_MAX_ATTEMPTS, 1, MAX_ATTEMPTS_CAP));
    this.#retryBaseMs = clamp(opts.retryBaseMs, DEFAULT_RETRY_BASE_MS, 0, 60_000);
    this.#retryMaxMs = clamp(opts.retryMaxMs, DEFAULT_RETRY_MAX_MS, this.#retryBaseMs, 60_000);
    this.#callTimeoutMs = clamp(opts.callTimeoutMs, DEFAULT_CALL_TIMEOUT_MS, 1, 600_000);
  }

  /** Built on first use: constructing the cipher (createCipher at startup) loads nothing and touches no network. */
  async #kms(): Promise<KeyManagementServiceClient> {
    if (this.#client) return this.#client;
    const { KeyManagementServiceClient: Client } = await loadKmsModules();
    const opts = this.#endpoint !== undefined ? await kmsClientOptionsForEndpoint(this.#endpoint) : undefined;
    this.#client ??= new Client(opts); // ??=: a concurrent first call may have won meanwhile
    return this.#client;
  }

  /** Per call: our deadline, and no gax-level retries (this class counts attempts itself). */
  #callOptions(): CallOptions {
    return { timeout: this.#callTimeoutMs, retry: null };
  }

  /** Closes the client if this cipher created it. */
  async close(): Promise<void> {
    if (this.#ownsClient && this.#client) {
      const c = this.#client;
      this.#client = undefined;
      await c.close();
    }
  }

  async encrypt(plaintext: Buffer, ctx: AadContext): Promise<EncryptResult> {
    if (!Buffer.isBuffer(plaintext)) throw new TypeError("encrypt: plaintext must be a Buffer");
    if (plaintext.length > KMS_MAX_PLAINTEXT_BYTES) {
      throw new CipherError(
        "misconfigured",
        `The credential is ${plaintext.length} bytes; Cloud KMS encrypts at most ${KMS_MAX_PLAINTEXT_BYTES} bytes directly.`,
      );
    }
    const aad = buildAad(ctx);
    const plaintextCrc = crc32c(plaintext);
    const aadCrc = crc32c(aad);
    return this.#withRetries("encrypt", async () => {
      const [res] = await (await this.#kms()).encrypt(
        {
          name: this.keyName,
          plaintext,
          additionalAuthenticatedData: aad,
          plaintextCrc32c: { value: plaintextCrc },
          additionalAuthenticatedDataCrc32c: { value: aadCrc },
        },
        this.#callOptions(),
      );
      if (res.verifiedPlaintextCrc32c !== true) {
        throw new IntegrityError("Cloud KMS did not confirm the plaintext checksum (verifiedPlaintextCrc32c is false)");
      }
      if (res.verifiedAdditionalAuthenticatedDataCrc32c !== true) {
        throw new IntegrityError("Cloud KMS did not confirm the AAD checksum (verifiedAdditionalAuthenticatedDataCrc32c is false)");
      }
      const ciphertext = toBuffer(res.ciphertext);
      if (!ciphertext || ciphertext.length === 0) throw new IntegrityError("Cloud KMS returned an empty ciphertext");
      const expected = readCrc32c(res.ciphertextCrc32c);
      if (expected === null || crc32c(ciphertext) !== expected) {
        throw new IntegrityError("the ciphertext does not match its ciphertextCrc32c");
      }
      const version = res.name ?? "";
      if (!this.#isOwnVersion(version)) {
        // Not transient: the service used (or claims to have used) a key other than ours.
        throw new CipherError(
          "misconfigured",
          `Cloud KMS reports encrypting with ${JSON.stringify(version)}, which is not a version of ${this.keyName}; the ciphertext was discarded.`,
        );
      }
      return { ciphertext, keyRef: this.keyName, keyVersion: version };
    });
  }

  async decrypt(ciphertext: Buffer, ctx: AadContext): Promise<DecryptResult> {
    if (!Buffer.isBuffer(ciphertext) || ciphertext.length === 0) {
      throw new CipherError("decrypt_failed", "The stored credential could not be decrypted (empty or not a Cloud KMS ciphertext).");
    }
    const aad = buildAad(ctx);
    const ciphertextCrc = crc32c(ciphertext);
    const aadCrc = crc32c(aad);
    return this.#withRetries("decrypt", async () => {
      const [res] = await (await this.#kms()).decrypt(
        {
          name: this.keyName,
          ciphertext,
          additionalAuthenticatedData: aad,
          ciphertextCrc32c: { value: ciphertextCrc },
          additionalAuthenticatedDataCrc32c: { value: aadCrc },
        },
        this.#callOptions(),
      );
      const plaintext = toBuffer(res.plaintext) ?? Buffer.alloc(0);
      const expected = readCrc32c(res.plaintextCrc32c);
      if (expected === null || crc32c(plaintext) !== expected) {
        plaintext.fill(0); // corrupted plaintext: do not leave it around
        throw new IntegrityError("the plaintext does not match its plaintextCrc32c");
      }
      return { plaintext, keyVersion: this.keyName, usedPrimary: res.usedPrimary === true };
    });
  }

  async primaryKeyVersion(): Promise<string> {
    const key = await this.#withRetries("getCryptoKey", () => this.#getCryptoKey());
    const primary = key.primary?.name ?? "";
    if (!this.#isOwnVersion(primary)) {
      throw new CipherError(
        "misconfigured",
        `Cloud KMS key ${this.keyName} has no primary version; it must be a symmetric ENCRYPT_DECRYPT key.`,
      );
    }
    return primary;
  }

  /**
   * Readiness: one GetCryptoKey, no retries (a probe reports the current state). Throws unless
   * the key exists, is usable by this identity, is a symmetric ENCRYPT_DECRYPT key and has an
   * enabled primary version.
   */
  async ping(): Promise<void> {
    const key = await this.#withRetries("getCryptoKey", () => this.#getCryptoKey(), 1);
    if (!isEnum(key.purpose, "ENCRYPT_DECRYPT", 1)) {
      throw new CipherError(
        "misconfigured",
        `Cloud KMS key ${this.keyName} has purpose ${String(key.purpose)}; a symmetric ENCRYPT_DECRYPT key is required.`,
      );
    }
    const primary = key.primary;
    if (!primary || !this.#isOwnVersion(primary.name ?? "")) {
      throw new CipherError("misconfigured", `Cloud KMS key ${this.keyName} has no primary version.`);
    }
    if (!isEnum(primary.state, "ENABLED", 1)) {
      throw new CipherError(
        "misconfigured",
        `The primary version ${primary.name ?? ""} of Cloud KMS key ${this.keyName} is ${String(primary.state)}, not ENABLED.`,
      );
    }
  }

  async #getCryptoKey(): Promise<protos.google.cloud.kms.v1.ICryptoKey> {
    const [key] = await (await this.#kms()).getCryptoKey({ name: this.keyName }, this.#callOptions());
    return key;
  }

  #isOwnVersion(name: string): boolean {
    return name.startsWith(this.#versionPrefix) && /^[A-Za-z0-9_-]+$/.test(name.slice(this.#versionPrefix.length));
  }

  #backoffMs(retry: number): number {
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (retry - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /**
   * Runs `attempt` up to `maxAttempts` times. Retries integrity mismatches and transient gRPC
   * statuses; maps everything else to a CipherError at once. Never attaches the original error.
   */
  async #withRetries<T>(op: Operation, attempt: () => Promise<T>, maxAttempts = this.#maxAttempts): Promise<T> {
    let last = "";
    let integrity = false;
    for (let n = 1; n <= maxAttempts; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (e instanceof CipherError) throw e;
        if (e instanceof IntegrityError) {
          integrity = true;
          last = e.message;
        } else {
          const code = grpcCode(e);
          if (code === undefined) throw this.#clientError(op, e);
          if (code === Status.INVALID_ARGUMENT && /checksum|crc32c/i.test(serverDetails(e))) {
            // KMS saw our request bytes differ from our checksums: corrupted in transit.
            integrity = true;
            last = `Cloud KMS rejected a request checksum (${serverDetails(e)})`;
          } else if (RETRYABLE_STATUS.has(code)) {
            integrity = false;
            last = `${statusLabel(code)}${serverDetails(e) ? `: ${serverDetails(e)}` : ""}`;
          } else {
            throw this.#statusError(op, code, e);
          }
        }
      }
      if (n < maxAttempts) await new Promise((r) => setTimeout(r, this.#backoffMs(n)));
    }
    const tries = `${maxAttempts} attempt${maxAttempts === 1 ? "" : "s"}`;
    throw new CipherError(
      "unavailable",
      integrity
        ? `Cloud KMS ${op} failed its integrity check after ${tries} (${last}); the response was discarded.`
        : `Cloud KMS ${op} is unavailable after ${tries} (${last}).`,
    );
  }

  #statusError(op: Operation, code: number, e: unknown): CipherError {
    const detail = serverDetails(e);
    const said = `${statusLabel(code)}${detail ? `: ${detail}` : ""}`;
    switch (code) {
      case Status.INVALID_ARGUMENT:
        if (op === "decrypt") return new CipherError("decrypt_failed", DECRYPT_FAILED_MESSAGE);
        return new CipherError("misconfigured", `Cloud KMS rejected the ${op} request for ${this.keyName} (${said}).`);
      case Status.FAILED_PRECONDITION: {
        if (op === "decrypt") {
          const version = /projects\/[^\s'"]+\/cryptoKeyVersions\/[A-Za-z0-9_-]+/.exec(detail)?.[0];
          return new CipherError(
            "decrypt_failed",
            `The stored credential's Cloud KMS key version${version ? ` ${version}` : ""} is disabled, scheduled for destruction or destroyed; re-enable it, or set the credential up again.`,
          );
        }
        return new CipherError(
          "misconfigured",
          `Cloud KMS key ${this.keyName} cannot ${op === "encrypt" ? "encrypt" : "be used"}: its primary version is not enabled (${said}).`,
        );
      }
      case Status.NOT_FOUND:
      case Status.PERMISSION_DENIED:
      case Status.UNAUTHENTICATED:
      case Status.UNIMPLEMENTED:
        return new CipherError("misconfigured", `Cloud KMS ${op} on ${this.keyName} failed (${said}); check GCP_KMS_KEY, GCP_KMS_ENDPOINT and IAM.`);
      default:
        return new CipherError("unavailable", `Cloud KMS ${op} failed (${said}).`);
    }
  }

  /** An error without a gRPC status: raised by the client before any call (credentials, options). */
  #clientError(op: Operation, e: unknown): CipherError {
    const name = e instanceof Error ? e.name : "Error";
    const message = e instanceof Error ? e.message.replace(/[^\x20-\x7e]+/g, " ").slice(0, 200) : "";
    const noCredentials = /default credentials|could not load the default credentials|invalid_grant|unauthorized/i.test(message);
    return new CipherError(
      noCredentials ? "misconfigured" : "unavailable",
      `The Cloud KMS client failed before ${op} (${name}${message ? `: ${message}` : ""}).`,
    );
  }
}
