import { beforeAll, describe, expect, it } from "vitest";
import { makeServiceAccountKey } from "../fakes/gcp-keys";
import { fakeOcid, makeOciApiKey } from "../fakes/oci-keys";
import { deepArrayJson, hugeRsaPem, ociFingerprintOf, pbkdf2BombPem, scryptBombPem } from "./hostile-keys";
import { callAction, createApiKey, createOrganization, rest, signUp, whileProbing, type Session } from "./support";

/**
 * "One request freezes the server for everyone" (docs/security.md). Each attack is one small setup
 * request whose key material makes the server do unbounded work; /healthz is probed every 50 ms
 * while it runs. Before the fixes each of these held the event loop for over ten seconds (measured
 * on the CI machine: PBKDF2 at 5,000,000 iterations 2.6 s, scrypt with p=20 1.6 s, one 16384-bit
 * signature 1.7 s; these attacks use ten times that, at least 13 s each) and 20,000 nested arrays
 * were a 500. The bound asserted on /healthz (5 s) is far below any of those stalls and far above a
 * normal answer: a few ms, 100-300 ms while the attack request is parsed, and up to 2.1 s measured
 * with the two cores saturated by three CPU burners (which failed the former 1 s bound). It checks
 * that the attack failed, not speed; the worst latency is printed.
 */
const STALL_BOUND_MS = 5000;

let owner: Session;
let org: string;
let key: string;

beforeAll(async () => {
  owner = await signUp();
  org = await createOrganization(owner);
  key = await createApiKey(owner, org);
});

function ociCredential(privateKey: string, extra: Record<string, string> = {}) {
  return {
    tenancy_ocid: fakeOcid("tenancy", "stall"),
    user_ocid: fakeOcid("user", "stall"),
    fingerprint: makeOciApiKey().fingerprint,
    private_key: privateKey,
    region: "us-ashburn-1",
    ...extra,
  };
}

describe("a single request cannot hold the event loop", () => {
  it("OCI: an encrypted PEM with a patched PBKDF2 iteration count is refused before any key derivation", async () => {
    const { result: r, worstMs, samples } = await whileProbing(() =>
      rest("POST", `/integrations/${org}/oci/setup`, { key, body: { credential: ociCredential(pbkdf2BombPem(50_000_000), { passphrase: "hunter22" }) } }),
    );
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.code).toBe("invalid_format");
    expect(r.body.error.fields["credential.private_key"]).toMatch(/iteration count above 100,000/);
    expect(samples).toBeGreaterThan(0);
    console.info(`worst /healthz ${Math.round(worstMs)} ms`);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it("OCI: scrypt parameters that cost seconds (N=16384, r=8, p=200) are refused", async () => {
    const { result: r, worstMs } = await whileProbing(() =>
      rest("POST", `/integrations/${org}/oci/setup`, { key, body: { credential: ociCredential(scryptBombPem(16384, 8, 200), { passphrase: "hunter22" }) } }),
    );
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.fields["credential.private_key"]).toMatch(/scrypt parameters/);
    console.info(`worst /healthz ${Math.round(worstMs)} ms`);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it("OCI: a 32768-bit RSA key (right fingerprint) is refused before anything is signed with it", async () => {
    const pem = hugeRsaPem(32768);
    const { result: r, worstMs } = await whileProbing(() =>
      rest("POST", `/integrations/${org}/oci/setup`, { key, body: { credential: { ...ociCredential(pem), fingerprint: ociFingerprintOf(pem) } } }),
    );
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.fields).toEqual({ "credential.private_key": "must be an RSA key of at most 4096 bits" });
    console.info(`worst /healthz ${Math.round(worstMs)} ms`);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });

  it("GCP: a key file with a 32768-bit private_key is refused through the server action, before the JWT is signed", async () => {
    const sa = makeServiceAccountKey({ projectId: "finops-stall-1" }).keyFile;
    const keyFile = { ...sa, private_key: hugeRsaPem(32768) };
    const { result: r, worstMs } = await whileProbing(() =>
      callAction({
        page: `/orgs/${org}/integrations/gcp`,
        file: "actions/integrations.ts",
        name: "setupIntegrationAction",
        args: [org, "gcp", { credential: { service_account_json: JSON.stringify(keyFile) } }],
        cookie: owner.cookie,
      }),
    );
    expect(r.status).toBe(200);
    expect(r.value).toMatchObject({ ok: false, error: { code: "invalid_format" } });
    expect(r.value.error.fields["credential.service_account_json"]).toMatch(/at most 4096 bits/);
    console.info(`worst /healthz ${Math.round(worstMs)} ms`);
    expect(worstMs).toBeLessThan(STALL_BOUND_MS);
  });
});

describe("every walk over user input has a depth limit", () => {
  const deepKeyFile = () => {
    const sa = makeServiceAccountKey({ projectId: "finops-deep-1" }).keyFile;
    // The key file as JSON text with one extra field nested 20,000 arrays deep (~40 KB).
    return `${JSON.stringify(sa).slice(0, -1)},"extra":${deepArrayJson(20_000)}}`;
  };

  it("REST: a GCP key file (an object) with a field nested 20,000 arrays deep is 400 naming the body path, not 500", async () => {
    const raw = `{"credential":{"service_account_json":${deepKeyFile()}}}`;
    const r = await rest("POST", `/integrations/${org}/gcp/setup`, { key, raw });
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(Object.keys(r.body.error.fields)).toEqual(["credential.service_account_json"]);
  });

  it("REST: the same key file pasted as a string is 400 invalid_format on service_account_json", async () => {
    const r = await rest("POST", `/integrations/${org}/gcp/setup`, { key, body: { credential: { service_account_json: deepKeyFile() } } });
    expect(r.status, r.text).toBe(400);
    expect(r.body.error.code).toBe("invalid_format");
    expect(r.body.error.fields["credential.service_account_json"]).toMatch(/nests values more than 8 levels deep/);
  });

  it("server action: the key file as a string, and as a deep argument, are refused (an error value, or 400 before the action)", async () => {
    const asString = await callAction({
      page: `/orgs/${org}/integrations/gcp`,
      file: "actions/integrations.ts",
      name: "setupIntegrationAction",
      args: [org, "gcp", { credential: { service_account_json: deepKeyFile() } }],
      cookie: owner.cookie,
    });
    expect(asString.status).toBe(200);
    expect(asString.value).toMatchObject({ ok: false, error: { code: "invalid_format" } });
    expect(asString.value.error.fields["credential.service_account_json"]).toMatch(/levels deep/);

    // As a nested argument React's reply decoder would overflow its stack: refused before it runs.
    const raw = `["${org}","gcp",{"credential":{"service_account_json":${deepKeyFile()}}}]`;
    const asObject = await callAction({
      page: `/orgs/${org}/integrations/gcp`,
      file: "actions/integrations.ts",
      name: "setupIntegrationAction",
      args: [],
      raw: { body: raw, contentType: "text/plain;charset=UTF-8" },
      cookie: owner.cookie,
    });
    expect(asObject.status, asObject.text).toBe(400);
    expect(asObject.text).toMatch(/levels deep/);
  });

  it("nothing was stored by any of these attacks", async () => {
    const list = await rest("GET", `/integrations/${org}`, { key });
    expect(list.status).toBe(200);
    expect(list.body.integrations).toEqual([]);
  });
});
