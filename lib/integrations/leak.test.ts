import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { FAKE_OPENAI_ADMIN_KEY, FAKE_OPENAI_INVALID_KEY } from "@/tests/fakes/keys";
import { startOpenAIFake, type OpenAIFake } from "@/tests/fakes/openai";
import { SYSTEM_ACTOR, adminOf, makeCore, type TestCore } from "@/tests/support/core-deps";

import { createOrgApiKey } from "../auth/organizations";
import { AppError } from "../errors";
import { CipherError } from "../kms/cipher";
import { canonicalize, fingerprintOf } from "../kms/fingerprint";
import { createLogger } from "../log";
import { StoreUnavailableError } from "../storage/store";
import { containsSecret } from "./protocols/http";
import { deleteIntegration } from "./delete-integration";
import { setDeps } from "../deps";
import { getCredential } from "./get-credential";
import { listIntegrations } from "./list-integrations";
import { setupIntegration } from "./setup-integration";
import { updateIntegrationMetadata } from "./update-integration-metadata";
import { validateIntegration } from "./validate-integration";

/**
 * Leakage at the core (docs/security.md): every use case runs with canary
 * secrets on its success and failure paths, and no canary — raw, base64 (any alignment), hex or
 * URL-encoded — may appear in the captured pino output, in any thrown error (JSON, toBody(),
 * inspect, stack), in any returned value, or in the bytes of any file under DATA_DIR.
 */

// Canaries: distinctive, with characters that change under URL and JSON encoding.
const CANARY = "cnry-Z7q2/Xk9+Lm4=Rv8&Tb3?Hw6%Jd1~pQ5sYc";
const CANARY_ENC_FAIL = "cnry-enc-Wd5/Gh7+Ks2=Qz9&Lm4?Nx8%Bt1~Vc6";
const CANARY_STORE_FAIL = "cnry-store-Yf3/Ja8+Po5=Re1&Su7?Ti4%Ow2~Mk9";
const CANARY_WRONG_FIELD = "orgcnryK8d2Lq7Vw4Zx1Nm6Pb3Rt9";
const CANARY_FORMAT = "sk-admin-cnryFmt8Hd3Lq6Vw1Zx4Nm7Pb2Rt5Gy9";
const CANARY_GCP = "gcpCnry4Vb8Qz1Lx7Nw3Ke6Yt9Hs2Fm5Pj0Rd";
const CANARY_UNKNOWN_FIELD = "cnry-unknown-Hq4/Jw8+Ke2=Lr6&Ms1?Nt5";

/** A real RSA key, so a well-formed GCP key file gets as far as signing and calling the token endpoint. */
const RSA_PEM = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
/** Its base64 body without line breaks (the key material itself). */
const RSA_BODY = RSA_PEM.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");

/** Secret values that must never leave the core (the fake's admin key is the success-path canary). */
const SECRETS = [
  RSA_BODY,
  ...RSA_PEM.split("\n").filter((l) => l.length > 40),
  CANARY,
  CANARY_ENC_FAIL,
  CANARY_STORE_FAIL,
  CANARY_WRONG_FIELD,
  CANARY_FORMAT,
  CANARY_GCP,
  CANARY_UNKNOWN_FIELD,
  FAKE_OPENAI_ADMIN_KEY,
  FAKE_OPENAI_INVALID_KEY,
];

/** The encodings a secret may take on its way into a log or a file. */
function encodedForms(secret: string): string[] {
  const buf = Buffer.from(secret, "utf8");
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%20/g, "+"),
    JSON.stringify(secret).slice(1, -1),
    buf.toString("hex"),
    buf.toString("hex").toUpperCase(),
  ]);
  // Base64 depends on where the secret starts within its 3-byte group: try all three alignments,
  // dropping the first and last quad, which mix in neighbouring bytes.
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), buf]).toString("base64");
    const inner = b64.slice(shift ? 4 : 0, -4);
    forms.add(inner);
    forms.add(inner.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length >= 12);
}

const FORMS = SECRETS.map((s) => ({ secret: s, forms: encodedForms(s) }));

/** The first leak found in `text` (a form of a secret, or any 16-char run of one), or null. */
function findLeak(text: string): string | null {
  for (const { secret, forms } of FORMS) {
    for (const f of forms) if (text.includes(f)) return `${secret.slice(0, 12)}… as ${f.slice(0, 16)}…`;
    if (containsSecret(text, [secret])) return `${secret.slice(0, 12)}… (a 16-char run)`;
  }
  return null;
}

function expectNoLeak(where: string, text: string): void {
  expect({ where, leak: findLeak(text) }).toEqual({ where, leak: null });
}

/** Everything a thrown error can show: its JSON, its response body, inspect (stack, cause, extra). */
function errorTexts(e: unknown): string {
  const parts = [String(e), JSON.stringify(e), util.inspect(e, { depth: Infinity, showHidden: true })];
  if (e instanceof Error) parts.push(e.message, String(e.stack), util.inspect(e.cause, { depth: Infinity }));
  if (e instanceof AppError) parts.push(JSON.stringify(e.toBody("req-1")), JSON.stringify(e.extra));
  return parts.join("\n");
}

function valueTexts(v: unknown): string {
  return `${JSON.stringify(v)}\n${util.inspect(v, { depth: Infinity, showHidden: true })}`;
}

const ORG = "acme";
const ADMIN = adminOf(ORG);

const gcpKeyFile = (privateKeyBody: string, pem?: string) => ({
  type: "service_account",
  project_id: "leak-test-123",
  private_key_id: "0123456789abcdef0123456789abcdef01234567",
  private_key: pem ?? `-----BEGIN PRIVATE KEY-----\n${privateKeyBody}\n-----END PRIVATE KEY-----\n`,
  client_email: "reader@leak-test-123.iam.gserviceaccount.com",
  client_id: "123456789012345678901",
});

let fake: OpenAIFake;
let core: TestCore;
const logLines: string[] = [];
const thrown: unknown[] = [];
const returned: unknown[] = [];

beforeAll(async () => {
  fake = await startOpenAIFake();
  const log = createLogger({ write: (line: string) => void logLines.push(line) });
  log.level = "trace"; // whatever LOG_LEVEL the test run has, capture everything
  core = await makeCore({ env: { OPENAI_API_BASE: fake.url }, log });
  await core.addOrg(ORG);
});

afterAll(async () => {
  setDeps(undefined);
  await core.close();
  await fake.close();
});

/**
 * Runs one use case the way a transport does: the result or the error is logged (the error with
 * pino's err serializer), and kept for the assertions.
 */
async function run<T>(what: string, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const log = core.deps.log.child({ use_case: what });
  try {
    const value = await fn();
    returned.push(value);
    log.info({ result: value }, `${what}: ok`);
    return { value };
  } catch (error) {
    thrown.push(error);
    log.warn({ err: error, code: error instanceof AppError ? error.code : undefined }, `${what}: failed`);
    return { error };
  }
}

function expectCode(r: { error?: unknown }, code: string): void {
  expect(r.error).toBeInstanceOf(AppError);
  expect((r.error as AppError).code).toBe(code);
}

function expectNothingLeakedSoFar(): void {
  expect(logLines.length).toBeGreaterThan(0);
  expectNoLeak("logs", logLines.join(""));
  thrown.forEach((e, i) => expectNoLeak(`thrown[${i}]`, errorTexts(e)));
  returned.forEach((v, i) => expectNoLeak(`returned[${i}]`, valueTexts(v)));
}

// ---------------------------------------------------------------------------------------------

describe("the leak detector itself", () => {
  it("finds each canary raw, URL-encoded, hex, and base64/base64url at every alignment", () => {
    for (const secret of SECRETS) {
      const candidates = [
        secret,
        encodeURIComponent(secret),
        Buffer.from(secret).toString("hex"),
        JSON.stringify({ credential: { api_key: secret } }),
        ...[0, 1, 2].map((n) => Buffer.from(`${"x".repeat(n)}${secret}`).toString("base64")),
        ...[0, 1, 2].map((n) => Buffer.from(`{"api_key":"${"y".repeat(n)}${secret}"}`).toString("base64url")),
        `prefix ${secret.slice(3, 19)} suffix`,
      ];
      for (const c of candidates) expect(findLeak(`…${c}…`), c).not.toBeNull();
    }
    expect(findLeak("nothing secret here: sk-admin-… fingerprint 3f9a0c1e")).toBeNull();
  });
});

describe("every use case, success and failure paths", () => {
  it("success: manual vendor set up, listed, validated, metadata replaced, read by the runtime, deleted", async () => {
    const setup = await run("setup", () =>
      setupIntegration(
        { actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: { display_name: "Datadog", api_key: CANARY }, metadata: { label: "prod" } } },
        core.deps,
      ),
    );
    expect(setup.error).toBeUndefined();
    await run("list", () => listIntegrations({ actor: ADMIN, org: ORG }, core.deps));
    await run("validate", () => validateIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.deps));
    await run("metadata", () => updateIntegrationMetadata({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { metadata: { label: "p" } } }, core.deps));

    // The runtime is the one place plaintext comes back; a pipeline that logs it gets it redacted.
    const cred = await getCredential(ORG, "saas_datadog", core.deps);
    expect(cred.credential.api_key).toBe(CANARY);
    core.deps.log.info({ credential: cred.credential, fingerprint: cred.fingerprint }, "pipeline got its credential");
    core.deps.log.info({ runtime: cred }, "pipeline got its credential (nested)");

    await run("setup (to delete)", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_newrelic", input: { credential: { display_name: "NR", api_key: CANARY } } }, core.deps),
    );
    await run("delete", () => deleteIntegration({ actor: ADMIN, org: ORG, provider: "saas_newrelic" }, core.deps));
    expectNothingLeakedSoFar();
  });

  it("success and provider verdicts: OpenAI set up, validated ok, then rejected on validate", async () => {
    const setup = await run("setup openai", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps),
    );
    expect(setup.error).toBeUndefined();
    await run("validate openai", () => validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps));

    core.deps.fetch = async () =>
      new Response(
        JSON.stringify({ error: { message: `Incorrect API key provided: ${FAKE_OPENAI_ADMIN_KEY}.`, type: "invalid_request_error", code: "invalid_api_key" } }),
        { status: 401, headers: { "content-type": "application/json" } },
      );
    const invalid = await run("validate openai (rejected)", () => validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps));
    core.deps.fetch = core.raw.fetch;
    expect((invalid.value as { integration: { status: string } }).integration.status).toBe("invalid");
    expectNothingLeakedSoFar();
  });

  it("format failures: a canary in the wrong field, in a malformed key, in an unknown field", async () => {
    const wrongField = await run("setup: secret in organization_id", () =>
      setupIntegration(
        { actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY, organization_id: CANARY_WRONG_FIELD } } },
        core.deps,
      ),
    );
    expectCode(wrongField, "invalid_format");
    const malformed = await run("setup: malformed key", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: `${CANARY_FORMAT} trailing words` } } }, core.deps),
    );
    expectCode(malformed, "invalid_format");
    const unknown = await run("setup: unknown field", () =>
      setupIntegration(
        { actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY, secret: CANARY_UNKNOWN_FIELD } } },
        core.deps,
      ),
    );
    expectCode(unknown, "invalid_request");
    const pasted = await run("setup: the whole body pasted as the credential", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { credential: CANARY } }, core.deps),
    );
    expectCode(pasted, "invalid_request");
    const badMeta = await run("metadata: secret in a tag value of the wrong type", () =>
      updateIntegrationMetadata({ actor: ADMIN, org: ORG, provider: "saas_datadog", input: { metadata: { tags: { k: { v: CANARY } } } } }, core.deps),
    );
    expectCode(badMeta, "invalid_metadata");
    expectNothingLeakedSoFar();
  });

  it("GCP: a service_account_json that is broken JSON text containing the canary (JSON.parse quotes its input)", async () => {
    const whole = JSON.stringify(gcpKeyFile(CANARY_GCP));
    const broken = [
      whole.slice(0, -20), // truncated
      whole.replace('"project_id":"leak-test-123"', `"project_id":${CANARY_GCP}`), // V8: Unexpected token 'g', ..."<input>"... is not valid JSON
      `{"type":"service_account","private_key":${CANARY_GCP}}`,
    ];
    const seenBefore = { thrown: thrown.length, logs: logLines.length };
    // Google is never called for real: its token endpoint answers like it does for a deleted key,
    // quoting back what it was sent.
    const sent: string[] = [];
    core.deps.fetch = async (input, init) => {
      const body = typeof init?.body === "string" ? init.body : String(init?.body ?? "");
      sent.push(String(input instanceof Request ? input.url : input));
      return new Response(JSON.stringify({ error: "invalid_grant", error_description: `Invalid JWT Signature. ${body}` }), {
        status: 400,
        headers: { "content-type": "application/json" },
      });
    };
    for (const provider of ["gcp", "gcp_vertex"]) {
      for (const text of broken) {
        const r = await run(`setup ${provider}: broken JSON`, () =>
          setupIntegration({ actor: ADMIN, org: ORG, provider, input: { credential: { service_account_json: text } } }, core.deps),
        );
        expect(text).not.toBe(whole);
        expectCode(r, "invalid_format");
        expect((r.error as AppError).extra.fields).toEqual({ "credential.service_account_json": expect.stringContaining("not valid JSON") });
      }
      const notSa = await run(`setup ${provider}: wrong type`, () =>
        setupIntegration(
          { actor: ADMIN, org: ORG, provider, input: { credential: { service_account_json: { ...gcpKeyFile(CANARY_GCP), type: CANARY_GCP } } } },
          core.deps,
        ),
      );
      expectCode(notSa, "invalid_format");
      // Well-formed: passes the format check and fails at the connection test step.
      const wellFormed = await run(`setup ${provider}: well-formed`, () =>
        setupIntegration({ actor: ADMIN, org: ORG, provider, input: { credential: { service_account_json: JSON.stringify(gcpKeyFile(CANARY_GCP)) } } }, core.deps),
      );
      expect(wellFormed.error).toBeInstanceOf(AppError);
      const signed = await run(`setup ${provider}: real key, rejected by Google`, () =>
        setupIntegration({ actor: ADMIN, org: ORG, provider, input: { credential: { service_account_json: gcpKeyFile("", RSA_PEM) } } }, core.deps),
      );
      expectCode(signed, "connection_test_failed");
    }
    core.deps.fetch = core.raw.fetch;
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((u) => u.startsWith("https://oauth2.googleapis.com/"))).toBe(true);
    // V8 quotes only ~10 characters of the input, so look for any 8-character run of the canary.
    const texts = [...thrown.slice(seenBefore.thrown).map(errorTexts), ...logLines.slice(seenBefore.logs)].join("\n");
    for (let i = 0; i + 8 <= CANARY_GCP.length; i++) expect(texts).not.toContain(CANARY_GCP.slice(i, i + 8));
    expectNothingLeakedSoFar();
  });

  it("connection test failures: rejected key, timeout, provider down, provider throttling", async () => {
    const rejected = await run("setup: rejected key", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_INVALID_KEY } } }, core.deps),
    );
    expectCode(rejected, "connection_test_failed");
    for (const [mode, code] of [
      ["hang", "provider_timeout"],
      ["unavailable", "provider_unreachable"],
      ["rate_limited", "rate_limited"],
    ] as const) {
      fake.setMode(mode);
      expectCode(
        await run(`setup: provider ${mode}`, () =>
          setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_ADMIN_KEY } } }, core.deps),
        ),
        code,
      );
      expectCode(await run(`validate: provider ${mode}`, () => validateIntegration({ actor: ADMIN, org: ORG, provider: "openai" }, core.deps)), code);
    }
    fake.setMode("normal");
    // A provider that echoes the key in an error body: the message is ours, never the provider's text.
    core.deps.fetch = async () =>
      new Response(JSON.stringify({ error: { message: `bad key ${FAKE_OPENAI_INVALID_KEY}`, type: FAKE_OPENAI_INVALID_KEY, code: FAKE_OPENAI_INVALID_KEY } }), {
        status: 500,
        headers: { "content-type": "application/json", "x-echo": FAKE_OPENAI_INVALID_KEY },
      });
    expectCode(
      await run("setup: provider echoes the key", () =>
        setupIntegration({ actor: ADMIN, org: ORG, provider: "openai", input: { credential: { api_key: FAKE_OPENAI_INVALID_KEY } } }, core.deps),
      ),
      "provider_unreachable",
    );
    core.deps.fetch = core.raw.fetch;
    expectNothingLeakedSoFar();
  });

  it("encryption and storage failures, and a tampered ciphertext", async () => {
    core.cipher.hooks.beforeEncrypt = () => {
      throw new CipherError("unavailable", "the key service did not answer");
    };
    const enc = await run("setup: encryption down", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_enc", input: { credential: { display_name: "Enc", api_key: CANARY_ENC_FAIL } } }, core.deps),
    );
    core.cipher.hooks.beforeEncrypt = undefined;
    expectCode(enc, "encryption_unavailable");

    core.store.hooks.beforePut = () => {
      throw new StoreUnavailableError("disk full", { cause: new Error("SQLITE_FULL") });
    };
    const store = await run("setup: store down", () =>
      setupIntegration({ actor: ADMIN, org: ORG, provider: "saas_store", input: { credential: { display_name: "Store", api_key: CANARY_STORE_FAIL } } }, core.deps),
    );
    core.store.hooks.beforePut = undefined;
    expectCode(store, "storage_unavailable");

    // Tamper with the stored ciphertext of the CANARY row: decryption fails closed, quietly.
    const row = (await core.raw.store.get(ORG, "saas_datadog"))!;
    const tampered = Buffer.from(row.ciphertext);
    tampered[tampered.length - 20] = tampered[tampered.length - 20]! ^ 0xff;
    await core.raw.store.update(ORG, "saas_datadog", row.version, { ciphertext: tampered });
    core.deps.cache.invalidate(ORG, "saas_datadog");
    expectCode(await run("validate: tampered", () => validateIntegration({ actor: ADMIN, org: ORG, provider: "saas_datadog" }, core.deps)), "encryption_unavailable");
    expectCode(await run("runtime: tampered", () => getCredential(ORG, "saas_datadog", core.deps)), "encryption_unavailable");
    await core.raw.store.update(ORG, "saas_datadog", row.version, { ciphertext: row.ciphertext });
    expectNothingLeakedSoFar();
  });
});

// ---------------------------------------------------------------------------------------------

describe("the real route handlers (request log line and response bodies)", () => {
  it("setup, validate, metadata, list and delete over HTTP leak nothing", async () => {
    setDeps(core.deps);
    const { apiKey } = await createOrgApiKey({ actor: SYSTEM_ACTOR, org: ORG, role: "admin" }, core.deps);
    const setupRoute = await import("@/app/integrations/[org]/[provider]/setup/route");
    const validateRoute = await import("@/app/integrations/[org]/[provider]/validate/route");
    const metadataRoute = await import("@/app/integrations/[org]/[provider]/metadata/route");
    const providerRoute = await import("@/app/integrations/[org]/[provider]/route");
    const orgRoute = await import("@/app/integrations/[org]/route");

    const req = (method: string, p: string, body?: unknown) =>
      new Request(`http://localhost${p}`, {
        method,
        headers: { "x-api-key": apiKey, "content-type": "application/json" },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    const params = (org: string, provider?: string) => ({ params: Promise.resolve<Record<string, string>>(provider ? { org, provider } : { org }) });
    const texts: string[] = [];
    const send = async (res: Response) => {
      texts.push(`${res.status} ${[...res.headers].join(";")} ${await res.text()}`);
      return res.status;
    };

    expect(await send(await setupRoute.POST(req("POST", "/integrations/acme/saas_http/setup", { credential: { display_name: "H", api_key: CANARY } }), params(ORG, "saas_http")))).toBe(201);
    expect(await send(await setupRoute.POST(req("POST", "/integrations/acme/openai/setup", { credential: { api_key: FAKE_OPENAI_INVALID_KEY } }), params(ORG, "openai")))).toBe(422);
    expect(await send(await setupRoute.POST(req("POST", "/integrations/acme/openai/setup", `{"credential":{"api_key":"${CANARY_FORMAT}"`), params(ORG, "openai")))).toBe(400);
    expect(
      await send(
        await setupRoute.POST(
          req("POST", "/integrations/acme/gcp/setup", { credential: { service_account_json: JSON.stringify(gcpKeyFile(CANARY_GCP)).slice(0, -5) } }),
          params(ORG, "gcp"),
        ),
      ),
    ).toBe(400);
    expect(await send(await validateRoute.POST(req("POST", "/integrations/acme/saas_http/validate"), params(ORG, "saas_http")))).toBe(200);
    expect(await send(await metadataRoute.PUT(req("PUT", "/integrations/acme/saas_http/metadata", { metadata: { label: "x" } }), params(ORG, "saas_http")))).toBe(200);
    expect(await send(await orgRoute.GET(req("GET", "/integrations/acme"), params(ORG)))).toBe(200);
    expect(await send(await providerRoute.DELETE(req("DELETE", "/integrations/acme/saas_http"), params(ORG, "saas_http")))).toBe(204);

    texts.forEach((t, i) => expectNoLeak(`response[${i}]`, t));
    expectNoLeak("logs", logLines.join(""));
    expect(logLines.join("")).not.toContain(apiKey);
    setDeps(undefined);
  });
});

// ---------------------------------------------------------------------------------------------

describe("logger redaction (lib/log.ts REDACT_PATHS)", () => {
  it("credentials, bodies and auth headers are redacted wherever a request logs them", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (line: string) => void lines.push(line) });
    log.level = "trace";
    log.info({ credential: { api_key: CANARY }, headers: { authorization: `Bearer ${CANARY}`, "x-api-key": CANARY } }, "top level");
    log.info({ req: { credential: { api_key: CANARY }, headers: { authorization: `Bearer ${CANARY}`, "x-api-key": CANARY, cookie: `s=${CANARY}` } } }, "nested");
    log.warn({ input: { credential: { api_key: CANARY } }, body: JSON.stringify({ api_key: CANARY }) }, "input and body");
    log.error({ api_key: CANARY, apiKey: CANARY, secret_access_key: CANARY, session_token: CANARY, client_secret: CANARY }, "fields");
    log.error({ private_key: CANARY, passphrase: CANARY, service_account_json: { private_key: CANARY }, plaintext: CANARY }, "more fields");
    log.child({ request_id: "r1" }).info({ call: { api_key: CANARY, plaintext: CANARY, body: CANARY, input: CANARY } }, "child, one level down");

    expect(lines).toHaveLength(6);
    const out = lines.join("");
    expectNoLeak("redacted logs", out);
    // Redaction replaces, it does not drop: the lines still say something was there.
    expect(out.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(20);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first.credential).toBe("[redacted]");
    expect(first.headers).toEqual({ authorization: "[redacted]", "x-api-key": "[redacted]" });
  });

  it("a field REDACT_PATHS does not list would be logged (the detector sees it), so the assertions above are real", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (line: string) => void lines.push(line) });
    log.info({ token: CANARY }, "unlisted field");
    expect(findLeak(lines.join(""))).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------

describe("fingerprints", () => {
  it("are 8 lowercase hex, the keyed HMAC of the canonical credential, stable, and never part of a secret", async () => {
    await core.addOrg("fp-one");
    await core.addOrg("fp-two");
    const cred = { display_name: "Datadog", api_key: CANARY };
    const a = await setupIntegration({ actor: SYSTEM_ACTOR, org: "fp-one", provider: "saas_datadog", input: { credential: cred } }, core.deps);
    const b = await setupIntegration(
      { actor: SYSTEM_ACTOR, org: "fp-two", provider: "saas_datadog", input: { credential: { api_key: CANARY, display_name: "Datadog" } } },
      core.deps,
    );
    const c = await setupIntegration(
      { actor: SYSTEM_ACTOR, org: "fp-two", provider: "saas_datadog", input: { credential: { ...cred, api_key: `${CANARY}x` } } },
      core.deps,
    );
    const fp = a.integration.fingerprint;
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    expect(b.integration.fingerprint).toBe(fp); // stable, independent of field order and org
    expect(c.integration.fingerprint).not.toBe(fp);
    expect(fp).toBe(fingerprintOf(canonicalize(cred), core.deps.pepper));
    for (const { forms } of FORMS) for (const f of forms) expect(f.includes(fp)).toBe(false);

    // A different pepper gives a different fingerprint for the same credential.
    const other = await makeCore({ env: { FINGERPRINT_PEPPER: Buffer.alloc(32, 7).toString("base64") } });
    try {
      await other.addOrg(ORG);
      const d = await setupIntegration({ actor: SYSTEM_ACTOR, org: ORG, provider: "saas_datadog", input: { credential: cred } }, other.deps);
      expect(d.integration.fingerprint).toMatch(/^[0-9a-f]{8}$/);
      expect(d.integration.fingerprint).not.toBe(fp);
    } finally {
      await other.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("files at rest", () => {
  function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
      const p = path.join(dir, d.name);
      return d.isDirectory() ? walk(p) : d.isFile() ? [p] : [];
    });
  }

  it("no file under DATA_DIR (SQLite database, -wal, -shm, key ring, pepper) holds a canary in any form", async () => {
    // Make sure there is a canary-bearing credential stored right now.
    await setupIntegration(
      { actor: ADMIN, org: ORG, provider: "saas_atrest", input: { credential: { display_name: "At rest", api_key: CANARY, notes: CANARY_WRONG_FIELD } } },
      core.deps,
    );
    expect((await getCredential(ORG, "saas_atrest", core.deps)).credential.api_key).toBe(CANARY);

    const files = walk(core.dataDir);
    const names = files.map((f) => path.basename(f));
    expect(names).toEqual(expect.arrayContaining(["credentials.sqlite", "credentials.sqlite-wal", "auth.sqlite", "keyring.json"]));
    expect(fs.statSync(path.join(core.dataDir, "credentials.sqlite-wal")).size).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      expectNoLeak(path.relative(core.dataDir, f), bytes.toString("latin1"));
      expectNoLeak(`${path.relative(core.dataDir, f)} (utf16)`, bytes.toString("utf16le"));
    }
  });

  it("the scan would see a plaintext credential written to a file (control)", () => {
    const probe = path.join(core.dataDir, "control.bin");
    fs.writeFileSync(probe, Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(JSON.stringify({ api_key: CANARY }))]));
    try {
      expect(findLeak(fs.readFileSync(probe).toString("latin1"))).not.toBeNull();
    } finally {
      fs.rmSync(probe);
    }
  });

  it("the full run produced logs, errors and results, and none of them leaked", () => {
    expect(thrown.length).toBeGreaterThan(15);
    expect(returned.length).toBeGreaterThan(5);
    expectNothingLeakedSoFar();
  });
});
