import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { crc32c, readCrc32c } from "../../lib/kms/crc32c";

/**
 * An in-process Cloud KMS fake speaking real gRPC, built from the protos shipped inside
 * `@google-cloud/kms` (build/protos/protos.json, loaded the way google-gax loads it).
 *
 * Serves Encrypt, Decrypt and GetCryptoKey; every other KeyManagementService method answers
 * UNIMPLEMENTED (and is recorded). Behaviour follows Cloud KMS where it matters to a client:
 *  - real AES-256-GCM per CryptoKeyVersion; the request AAD is bound (not stored);
 *  - Encrypt on a CryptoKey uses its primary version and names it in `EncryptResponse.name`;
 *  - Decrypt takes the CryptoKey name and finds the version from the ciphertext; `usedPrimary`;
 *  - request CRC32C fields are checked (mismatch → INVALID_ARGUMENT "The checksum in field … did
 *    not match …"), response CRC32C fields are computed, `verified*` flags are true exactly when
 *    the request carried that checksum;
 *  - a disabled or destroyed version → FAILED_PRECONDITION; an unknown key → NOT_FOUND;
 *    bad ciphertext or wrong AAD → INVALID_ARGUMENT "Decryption failed: the ciphertext is invalid.";
 *    plaintext or AAD over 64 KiB → INVALID_ARGUMENT.
 *
 * Ciphertext layout (opaque to clients, like the real one):
 *   | "FK" | 0x01 | keyTag (8, random per CryptoKey) | version (u32 BE) | nonce (12) | ct | tag (16) |
 * The GCM AAD is `header (15 bytes) || request AAD`, so the version label cannot be altered.
 *
 * Fault injection (`inject`) corrupts responses or fails calls, once or N times. The fake records
 * method and resource names only: never plaintext, ciphertext or AAD.
 */

export type KmsMethod = "Encrypt" | "Decrypt" | "GetCryptoKey" | (string & {});

export type KmsFaultKind =
  /** Encrypt: flip one byte of the returned ciphertext (its checksum stays that of the real bytes). */
  | "flip-ciphertext"
  /** Decrypt: flip one byte of the returned plaintext (its checksum stays that of the real bytes). */
  | "flip-plaintext"
  /** Encrypt: report ciphertextCrc32c off by one. */
  | "wrong-ciphertext-crc"
  /** Decrypt: report plaintextCrc32c off by one. */
  | "wrong-plaintext-crc"
  /** Encrypt: verifiedPlaintextCrc32c = false although the request carried the checksum. */
  | "drop-verified-plaintext-crc"
  /** Encrypt: verifiedAdditionalAuthenticatedDataCrc32c = false although the request carried it. */
  | "drop-verified-aad-crc"
  /** Encrypt: name a version of another CryptoKey in `EncryptResponse.name`. */
  | "wrong-name"
  /** Fail with UNAVAILABLE. */
  | "unavailable"
  /** Fail with RESOURCE_EXHAUSTED (quota). */
  | "resource-exhausted"
  /** Fail with `code` / `message`. */
  | "status"
  /** Never answer (until the client's deadline or close()). */
  | "hang";

export interface KmsFault {
  kind: KmsFaultKind;
  /** Which method it hits. Default: Encrypt for encrypt-response faults, Decrypt for decrypt ones, any otherwise. */
  method?: KmsMethod;
  /** How many matching calls it hits (default 1; Infinity = every call until clearFaults()). */
  times?: number;
  /** For kind "status". */
  code?: grpc.status;
  message?: string;
}

export interface KmsCall {
  method: KmsMethod;
  /** The request's resource name (`name`, or `parent` for list/create calls). */
  name: string;
  /** The fault applied to this call, if any. */
  fault?: KmsFaultKind;
  at: number;
}

export type KmsVersionState = "ENABLED" | "DISABLED" | "DESTROYED";

export interface KmsFake {
  /** "127.0.0.1:PORT", the GCP_KMS_ENDPOINT form. */
  endpoint: string;
  port: number;
  /** Every call received, oldest first. */
  calls: KmsCall[];
  /** Calls to one method. */
  callsTo(method: KmsMethod): KmsCall[];
  clearCalls(): void;
  /** Create a symmetric ENCRYPT_DECRYPT CryptoKey with version 1 as primary. Returns that version's name. */
  createKey(keyName: string): string;
  /** Add a version and make it primary. Returns the new version's name. */
  rotate(keyName: string): string;
  /** The current primary version's name. */
  primaryVersion(keyName: string): string;
  disableVersion(versionName: string): void;
  enableVersion(versionName: string): void;
  destroyVersion(versionName: string): void;
  inject(fault: KmsFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

const KEY_NAME_RE = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
const VERSION_NAME_RE = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/(\d+)$/;
const MAX_DATA_BYTES = 64 * 1024;
const MAGIC = Buffer.from("FK\x01", "latin1");
const KEY_TAG_BYTES = 8;
const HEADER_BYTES = MAGIC.length + KEY_TAG_BYTES + 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DECRYPTION_FAILED = "Decryption failed: the ciphertext is invalid.";

interface FakeVersion {
  id: number;
  key: Buffer;
  state: KmsVersionState;
  createTime: { seconds: string; nanos: number };
}

interface FakeKey {
  name: string;
  tag: Buffer;
  versions: Map<number, FakeVersion>;
  primary: number;
  createTime: { seconds: string; nanos: number };
}

interface ActiveFault extends KmsFault {
  remaining: number;
}

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const RESPONSE_FAULT_METHOD: Partial<Record<KmsFaultKind, KmsMethod>> = {
  "flip-ciphertext": "Encrypt",
  "wrong-ciphertext-crc": "Encrypt",
  "drop-verified-plaintext-crc": "Encrypt",
  "drop-verified-aad-crc": "Encrypt",
  "wrong-name": "Encrypt",
  "flip-plaintext": "Decrypt",
  "wrong-plaintext-crc": "Decrypt",
};

let cachedService: grpc.ServiceDefinition | undefined;

/** KeyManagementService from the protos.json that ships with @google-cloud/kms (as google-gax loads it). */
function kmsServiceDefinition(): grpc.ServiceDefinition {
  if (cachedService) return cachedService;
  const require = createRequire(import.meta.url);
  const file = require.resolve("@google-cloud/kms/build/protos/protos.json");
  const json = JSON.parse(fs.readFileSync(file, "utf8")) as Parameters<typeof protoLoader.fromJSON>[0];
  const def = protoLoader.fromJSON(json, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: grpc.ServiceClientConstructor } } } };
  };
  cachedService = pkg.google.cloud.kms.v1.KeyManagementService.service;
  return cachedService;
}

function timestampNow(): { seconds: string; nanos: number } {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function asBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.alloc(0);
}

function checkRequestCrc(field: string, dataField: string, data: Buffer, wrapper: unknown): boolean {
  if (wrapper === null || wrapper === undefined) return false;
  const sent = readCrc32c(wrapper as { value?: unknown });
  if (sent === null || sent !== crc32c(data)) {
    throw new RpcError(grpc.status.INVALID_ARGUMENT, `The checksum in field ${field} did not match the data in field ${dataField}.`);
  }
  return true;
}

function flipByte(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  if (out.length === 0) return Buffer.from([0x01]);
  const i = Math.floor(out.length / 2);
  out[i] = (out[i] as number) ^ 0x01;
  return out;
}

export async function startKmsFake(opts: { port?: number } = {}): Promise<KmsFake> {
  const keys = new Map<string, FakeKey>();
  const calls: KmsCall[] = [];
  let faults: ActiveFault[] = [];
  const hanging = new Set<grpc.sendUnaryData<unknown>>();

  function versionName(key: FakeKey, id: number): string {
    return `${key.name}/cryptoKeyVersions/${id}`;
  }

  function keyOf(name: string): FakeKey {
    const key = keys.get(name);
    if (!key) throw new RpcError(grpc.status.NOT_FOUND, `CryptoKey ${name} not found.`);
    return key;
  }

  function versionOf(versionName: string): FakeVersion {
    const m = VERSION_NAME_RE.exec(versionName);
    const key = m ? keys.get(m[1] as string) : undefined;
    const version = key?.versions.get(Number(m?.[2]));
    if (!version) throw new Error(`kms fake: no such version ${versionName}`);
    return version;
  }

  function requireEnabled(key: FakeKey, version: FakeVersion): void {
    if (version.state !== "ENABLED") {
      throw new RpcError(
        grpc.status.FAILED_PRECONDITION,
        `The request cannot be fulfilled. Resource ${versionName(key, version.id)} has value ${version.state} in field crypto_key_version.state.`,
      );
    }
  }

  function versionJson(key: FakeKey, v: FakeVersion) {
    return {
      name: versionName(key, v.id),
      state: v.state,
      protectionLevel: "SOFTWARE",
      algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION",
      createTime: v.createTime,
    };
  }

  /** Takes the first matching fault (decrementing it), or undefined. */
  function takeFault(method: KmsMethod): ActiveFault | undefined {
    const f = faults.find((x) => x.remaining > 0 && (x.method ?? RESPONSE_FAULT_METHOD[x.kind] ?? method) === method);
    if (!f) return undefined;
    f.remaining -= 1;
    faults = faults.filter((x) => x.remaining > 0);
    return f;
  }

  // ---- the three real methods ----------------------------------------------------------------

  function encrypt(req: Record<string, unknown>, fault: KmsFault | undefined) {
    const name = String(req.name ?? "");
    let key: FakeKey;
    let version: FakeVersion | undefined;
    const vm = VERSION_NAME_RE.exec(name);
    if (vm) {
      key = keyOf(vm[1] as string);
      version = key.versions.get(Number(vm[2]));
      if (!version) throw new RpcError(grpc.status.NOT_FOUND, `CryptoKeyVersion ${name} not found.`);
    } else {
      key = keyOf(name);
      version = key.versions.get(key.primary) as FakeVersion;
    }
    const plaintext = asBuffer(req.plaintext);
    const aad = asBuffer(req.additionalAuthenticatedData);
    if (plaintext.length > MAX_DATA_BYTES) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, `The plaintext is larger than the ${MAX_DATA_BYTES}-byte limit.`);
    }
    if (aad.length > MAX_DATA_BYTES) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, `The additional authenticated data is larger than the ${MAX_DATA_BYTES}-byte limit.`);
    }
    const verifiedPlaintext = checkRequestCrc("plaintext_crc32c", "plaintext", plaintext, req.plaintextCrc32c);
    const verifiedAad = checkRequestCrc(
      "additional_authenticated_data_crc32c",
      "additional_authenticated_data",
      aad,
      req.additionalAuthenticatedDataCrc32c,
    );
    requireEnabled(key, version);

    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    key.tag.copy(header, MAGIC.length);
    header.writeUInt32BE(version.id, MAGIC.length + KEY_TAG_BYTES);
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv("aes-256-gcm", version.key, nonce, { authTagLength: TAG_BYTES });
    c.setAAD(Buffer.concat([header, aad]));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    const ciphertext = Buffer.concat([header, nonce, ct, c.getAuthTag()]);
    const ciphertextCrc = crc32c(ciphertext);

    const otherKey = `${key.name.replace(/\/cryptoKeys\/[^/]+$/, "/cryptoKeys/")}other-key`;
    return {
      name: fault?.kind === "wrong-name" ? `${otherKey}/cryptoKeyVersions/${version.id}` : versionName(key, version.id),
      ciphertext: fault?.kind === "flip-ciphertext" ? flipByte(ciphertext) : ciphertext,
      ciphertextCrc32c: { value: String(fault?.kind === "wrong-ciphertext-crc" ? (ciphertextCrc + 1) >>> 0 : ciphertextCrc) },
      verifiedPlaintextCrc32c: fault?.kind === "drop-verified-plaintext-crc" ? false : verifiedPlaintext,
      verifiedAdditionalAuthenticatedDataCrc32c: fault?.kind === "drop-verified-aad-crc" ? false : verifiedAad,
      protectionLevel: "SOFTWARE",
    };
  }

  function decrypt(req: Record<string, unknown>, fault: KmsFault | undefined) {
    const key = keyOf(String(req.name ?? ""));
    const ciphertext = asBuffer(req.ciphertext);
    const aad = asBuffer(req.additionalAuthenticatedData);
    if (aad.length > MAX_DATA_BYTES) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, `The additional authenticated data is larger than the ${MAX_DATA_BYTES}-byte limit.`);
    }
    checkRequestCrc("ciphertext_crc32c", "ciphertext", ciphertext, req.ciphertextCrc32c);
    checkRequestCrc("additional_authenticated_data_crc32c", "additional_authenticated_data", aad, req.additionalAuthenticatedDataCrc32c);

    const invalid = () => new RpcError(grpc.status.INVALID_ARGUMENT, DECRYPTION_FAILED);
    if (ciphertext.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES) throw invalid();
    const header = ciphertext.subarray(0, HEADER_BYTES);
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid();
    if (!header.subarray(MAGIC.length, MAGIC.length + KEY_TAG_BYTES).equals(key.tag)) throw invalid();
    const version = key.versions.get(header.readUInt32BE(MAGIC.length + KEY_TAG_BYTES));
    if (!version) throw invalid();
    requireEnabled(key, version);

    let plaintext: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", version.key, ciphertext.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES), {
        authTagLength: TAG_BYTES,
      });
      d.setAAD(Buffer.concat([header, aad]));
      d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
      plaintext = Buffer.concat([d.update(ciphertext.subarray(HEADER_BYTES + NONCE_BYTES, ciphertext.length - TAG_BYTES)), d.final()]);
    } catch {
      throw invalid();
    }
    const plaintextCrc = crc32c(plaintext);
    return {
      plaintext: fault?.kind === "flip-plaintext" ? flipByte(plaintext) : plaintext,
      plaintextCrc32c: { value: String(fault?.kind === "wrong-plaintext-crc" ? (plaintextCrc + 1) >>> 0 : plaintextCrc) },
      usedPrimary: version.id === key.primary,
      protectionLevel: "SOFTWARE",
    };
  }

  function getCryptoKey(req: Record<string, unknown>) {
    const key = keyOf(String(req.name ?? ""));
    const primary = key.versions.get(key.primary) as FakeVersion;
    return {
      name: key.name,
      primary: versionJson(key, primary),
      purpose: "ENCRYPT_DECRYPT",
      createTime: key.createTime,
      versionTemplate: { protectionLevel: "SOFTWARE", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" },
    };
  }

  const implemented: Record<string, (req: Record<string, unknown>, fault: KmsFault | undefined) => unknown> = {
    Encrypt: encrypt,
    Decrypt: decrypt,
    GetCryptoKey: getCryptoKey,
  };

  // ---- server --------------------------------------------------------------------------------

  const service = kmsServiceDefinition();
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(service)) {
    handlers[method] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const req = call.request ?? {};
      const name = String(req.name ?? req.parent ?? "");
      const fault = takeFault(method);
      calls.push({ method, name, ...(fault ? { fault: fault.kind } : {}), at: Date.now() });
      if (fault?.kind === "hang") {
        hanging.add(callback);
        call.on("cancelled", () => hanging.delete(callback));
        return;
      }
      if (fault?.kind === "unavailable") return callback({ code: grpc.status.UNAVAILABLE, details: "The service is currently unavailable." });
      if (fault?.kind === "resource-exhausted") {
        return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "Quota exceeded for quota metric 'Cryptographic requests'." });
      }
      if (fault?.kind === "status") {
        return callback({ code: fault.code ?? grpc.status.INTERNAL, details: fault.message ?? "Injected failure." });
      }
      const impl = implemented[method];
      if (!impl) return callback({ code: grpc.status.UNIMPLEMENTED, details: `The KMS fake does not implement ${method}.` });
      try {
        callback(null, impl(req, fault));
      } catch (e) {
        if (e instanceof RpcError) callback({ code: e.code, details: e.message });
        else callback({ code: grpc.status.INTERNAL, details: "The KMS fake failed." });
      }
    };
  }

  const server = new grpc.Server();
  server.addService(service, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });

  let closed = false;
  const fake: KmsFake = {
    endpoint: `127.0.0.1:${port}`,
    port,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    clearCalls() {
      calls.length = 0;
    },
    createKey(keyName) {
      if (!KEY_NAME_RE.test(keyName)) throw new Error(`kms fake: not a CryptoKey name: ${keyName}`);
      if (keys.has(keyName)) throw new Error(`kms fake: key exists: ${keyName}`);
      const key: FakeKey = { name: keyName, tag: randomBytes(KEY_TAG_BYTES), versions: new Map(), primary: 1, createTime: timestampNow() };
      key.versions.set(1, { id: 1, key: randomBytes(32), state: "ENABLED", createTime: timestampNow() });
      keys.set(keyName, key);
      return versionName(key, 1);
    },
    rotate(keyName) {
      const key = keys.get(keyName);
      if (!key) throw new Error(`kms fake: no such key ${keyName}`);
      const id = Math.max(...key.versions.keys()) + 1;
      key.versions.set(id, { id, key: randomBytes(32), state: "ENABLED", createTime: timestampNow() });
      key.primary = id;
      return versionName(key, id);
    },
    primaryVersion(keyName) {
      const key = keys.get(keyName);
      if (!key) throw new Error(`kms fake: no such key ${keyName}`);
      return versionName(key, key.primary);
    },
    disableVersion(name) {
      const v = versionOf(name);
      if (v.state === "DESTROYED") throw new Error(`kms fake: ${name} is destroyed`);
      v.state = "DISABLED";
    },
    enableVersion(name) {
      const v = versionOf(name);
      if (v.state === "DESTROYED") throw new Error(`kms fake: ${name} is destroyed`);
      v.state = "ENABLED";
    },
    destroyVersion(name) {
      const v = versionOf(name);
      v.state = "DESTROYED";
      v.key.fill(0);
    },
    inject(fault) {
      const times = fault.times ?? 1;
      if (!(times > 0)) throw new Error("kms fake: times must be > 0");
      faults.push({ ...fault, remaining: times });
    },
    clearFaults() {
      faults = [];
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const cb of hanging) cb({ code: grpc.status.UNAVAILABLE, details: "The KMS fake is shutting down." });
      hanging.clear();
      server.forceShutdown();
    },
  };
  return fake;
}
