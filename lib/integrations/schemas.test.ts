import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import type { z } from "zod";

import { getRegistry, resolveProvider, type ResolvedProvider } from "./registry";
import {
  LABEL_MAX,
  TAGS_MAX,
  buildCredentialSchema,
  buildMetadataSchema,
  checkGcpServiceAccount,
  credentialWarnings,
  issuesToFields,
} from "./schemas";

/**
 * Format checks generated from the registry, for every provider: realistic valid credentials pass
 * unchanged (apart from trimming), each kind of invalid input is rejected with the right field
 * named and a short message that never quotes the value.
 */

// ------------------------------------------------------------------ realistic values

const { privateKey: PEM } = crypto.generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const PEM_BODY_LINE = PEM.split("\n")[5]!; // a line of base64 from the middle of the key

const PROJECT = "finops-prod-4821";
const SA_EMAIL = `finops-reader@${PROJECT}.iam.gserviceaccount.com`;
const GCP_KEY_FILE = {
  type: "service_account",
  project_id: PROJECT,
  private_key_id: "5f2c0e9b8a7d6c5b4a39281706f5e4d3c2b1a098",
  private_key: PEM,
  client_email: SA_EMAIL,
  client_id: "108234567890123456789",
  auth_uri: "https://accounts.google.com/o/oauth2/auth",
  token_uri: "https://oauth2.googleapis.com/token",
  auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
  client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(SA_EMAIL)}`,
  universe_domain: "googleapis.com",
};
const GCP_KEY_TEXT = JSON.stringify(GCP_KEY_FILE, null, 2);

/** Deterministic strings of a given alphabet and length (no secrets in the repo, no flakiness). */
function chars(alphabet: string, n: number, seed = 7): string {
  let out = "";
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += alphabet[x % alphabet.length];
  }
  return out;
}
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URLSAFE = ALNUM + "_-";
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const AWS_AKIA = "AKIA" + chars(BASE32, 16, 1);
const AWS_ASIA = "ASIA" + chars(BASE32, 16, 2);
const AWS_SECRET = chars(ALNUM + "/+", 40, 3);
const AWS_SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + chars(ALNUM + "/+=", 300, 4);

const GUID_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const GUID_CLIENT = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const GUID_SUB = "9b2a1c4e-0d3f-4e5a-8b7c-6d5e4f3a2b1c";
const AZURE_SECRET = "xYz8Q~" + chars(ALNUM + "_~.-", 34, 5);

const OCI_TENANCY = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f44n2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
const OCI_USER = "ocid1.user.oc1..aaaaaaaa" + chars("abcdefghijklmnopqrstuvwxyz0123456789", 52, 6);
const OCI_FINGERPRINT = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34";

const OPENAI_ADMIN = "sk-admin-" + chars(URLSAFE, 58, 8) + "T3BlbkFJ" + chars(URLSAFE, 58, 9);
const OPENAI_PROJECT = "sk-proj-" + chars(URLSAFE, 74, 10) + "T3BlbkFJ" + chars(URLSAFE, 74, 11);
const OPENAI_LEGACY = "sk-" + chars(ALNUM, 20, 12) + "T3BlbkFJ" + chars(ALNUM, 20, 13);
const OPENAI_SVCACCT = "sk-svcacct-" + chars(URLSAFE, 58, 14) + "T3BlbkFJ" + chars(URLSAFE, 58, 15);

const ANTHROPIC_ADMIN = "sk-ant-admin01-" + chars(URLSAFE, 93, 16) + "AA";
const ANTHROPIC_API = "sk-ant-api03-" + chars(URLSAFE, 93, 17) + "AA";
const ANTHROPIC_OAUTH = "sk-ant-oat01-" + chars(URLSAFE, 93, 18) + "AA";

const GEMINI_AUTH = "AQ." + chars(URLSAFE + ".", 53, 19);
const GEMINI_STANDARD = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"; // Google Cloud docs example, 39 chars

const ROLE_ARNS = [
  "arn:aws:iam::123456789012:role/FinOpsReader",
  "arn:aws:iam::123456789012:role/service-role/FinOpsReader",
  "arn:aws-cn:iam::123456789012:role/FinOpsReader",
  "arn:aws-us-gov:iam::123456789012:role/service-role/finops.reader@team",
  "arn:aws-eusc:iam::123456789012:role/FinOps+Reader=1,2",
  "arn:aws-iso-b:iam::123456789012:role/a/b/c/FinOpsReader",
];

/** Valid credentials per concrete provider id: every registry provider must have some. */
const VALID: Record<string, Array<Record<string, unknown>>> = {
  gcp: [
    { service_account_json: GCP_KEY_FILE },
    { service_account_json: GCP_KEY_TEXT },
    { service_account_json: JSON.stringify(GCP_KEY_FILE) },
    // A default (compute) service account, minimal fields, no universe_domain.
    {
      service_account_json: {
        type: "service_account",
        project_id: PROJECT,
        private_key_id: "0123456789abcdef0123456789abcdef01234567",
        private_key: PEM,
        client_email: "123456789012-compute@developer.gserviceaccount.com",
      },
    },
  ],
  aws_iam: ROLE_ARNS.map((role_arn) => ({ role_arn })),
  aws_keys: [
    { access_key_id: AWS_AKIA, secret_access_key: AWS_SECRET },
    { access_key_id: AWS_ASIA, secret_access_key: AWS_SECRET, session_token: AWS_SESSION_TOKEN },
    // The documentation secret is only a reject on the key id; long-term keys may carry no token.
    { access_key_id: AWS_AKIA, secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  ],
  azure: [
    { tenant_id: GUID_TENANT, client_id: GUID_CLIENT, client_secret: AZURE_SECRET, subscription_id: GUID_SUB },
    { tenant_id: "contoso.onmicrosoft.com", client_id: GUID_CLIENT.toUpperCase(), client_secret: AZURE_SECRET, subscription_id: GUID_SUB },
  ],
  oci: [
    { tenancy_ocid: OCI_TENANCY, user_ocid: OCI_USER, fingerprint: OCI_FINGERPRINT, private_key: PEM, region: "us-ashburn-1" },
    {
      tenancy_ocid: "ocid1.tenancy.oc2..aaaaaaaa" + chars("abcdefghijklmnopqrstuvwxyz0123456789", 52, 20),
      user_ocid: OCI_USER,
      fingerprint: OCI_FINGERPRINT,
      private_key: PEM,
      passphrase: "correct horse battery staple",
      region: "us-langley-1",
    },
  ],
  openai: [
    { api_key: OPENAI_ADMIN },
    { api_key: OPENAI_ADMIN, organization_id: "org-AbCdEf0123456789GhIjKl" },
    { api_key: OPENAI_PROJECT },
    { api_key: OPENAI_LEGACY },
    { api_key: OPENAI_SVCACCT },
  ],
  anthropic: [{ api_key: ANTHROPIC_ADMIN }, { api_key: ANTHROPIC_API }],
  gemini: [{ api_key: GEMINI_AUTH }, { api_key: GEMINI_STANDARD }],
  azure_openai: [
    { tenant_id: GUID_TENANT, client_id: GUID_CLIENT, client_secret: AZURE_SECRET, endpoint: "https://my-resource.openai.azure.com" },
    { tenant_id: "contoso.onmicrosoft.com", client_id: GUID_CLIENT, client_secret: AZURE_SECRET, endpoint: "https://finops-eastus-01.cognitiveservices.azure.com/" },
  ],
  aws_bedrock: [
    { role_arn: ROLE_ARNS[0], region: "us-east-1" },
    { role_arn: ROLE_ARNS[1], region: "eu-central-1" },
    { role_arn: ROLE_ARNS[3], region: "us-gov-west-1" },
  ],
  gcp_vertex: [
    { service_account_json: GCP_KEY_FILE },
    { service_account_json: GCP_KEY_TEXT, location: "us-central1" },
    { service_account_json: GCP_KEY_FILE, location: "europe-west4" },
    { service_account_json: GCP_KEY_FILE, location: "global" },
  ],
  saas_datadog: [
    { display_name: "Datadog" },
    { display_name: "Datadog", api_key: chars(ALNUM, 32, 21), base_url: "https://api.datadoghq.eu/api/v1", notes: "Annual plan,\nbilled in EUR." },
  ],
};

// ------------------------------------------------------------------ helpers

function provider(id: string): ResolvedProvider {
  const p = resolveProvider(id);
  if (!p) throw new Error(`unknown provider ${id}`);
  return p;
}

function parseCredential(id: string, input: unknown) {
  return buildCredentialSchema(provider(id)).safeParse(input);
}

function expectValid(id: string, input: Record<string, unknown>): Record<string, unknown> {
  const r = parseCredential(id, input);
  if (!r.success) throw new Error(`${id} rejected a valid credential: ${JSON.stringify(issuesToFields(r.error))}`);
  return r.data;
}

/**
 * Every string a message must not quote: the input's values (and lines of multi-line values such
 * as a PEM key). A GCP key file's `type` is exempt: it is a fixed identifier, never a secret, and
 * naming it ("this file is authorized_user") tells the person what they uploaded.
 */
function sensitiveStrings(input: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      if (v.trim().length >= 8) out.push(v.trim());
      for (const line of v.split(/\r?\n|\\n/)) if (line.trim().length >= 12) out.push(line.trim());
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) if (!(k === "type" && typeof x === "string" && /^[a-z_]+$/.test(x))) walk(x);
    }
  };
  walk(typeof input === "string" && input.trim().startsWith("{") ? safeJson(input) ?? input : input);
  if (typeof input === "string") walk(input);
  return out;
}
function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/**
 * Parse must fail with exactly these fields; each message must match, be a few words, and not
 * quote any value from the input.
 */
function expectInvalid(id: string, input: unknown, fields: Record<string, string | RegExp>): Record<string, string> {
  const r = parseCredential(id, input);
  expect(r.success, `${id} accepted ${JSON.stringify(Object.keys(fields))}`).toBe(false);
  const got = issuesToFields((r as { error: z.ZodError }).error);
  expect(Object.keys(got).sort()).toEqual(Object.keys(fields).sort());
  for (const [k, want] of Object.entries(fields)) {
    const msg = got[k]!;
    if (typeof want === "string") expect(msg).toBe(want);
    else expect(msg).toMatch(want);
    expectShortAndClean(msg, input);
  }
  return got;
}

function expectShortAndClean(msg: string, input: unknown) {
  expect(msg.length).toBeGreaterThan(0);
  expect(msg.split(/\s+/).length, msg).toBeLessThanOrEqual(40);
  for (const s of sensitiveStrings(input)) expect(msg, "message quotes the input").not.toContain(s);
}

const validOf = (id: string) => structuredClone(VALID[id]![0]!);
const concreteIds = () => getRegistry().providers.map((p) => (p.template ? `${p.id}_datadog` : p.id));

// ------------------------------------------------------------------ valid input

describe("valid credentials pass, unchanged", () => {
  it("there are valid examples for every provider in the registry", () => {
    expect(Object.keys(VALID).sort()).toEqual(concreteIds().sort());
  });

  for (const [id, examples] of Object.entries(VALID)) {
    examples.forEach((input, i) => {
      it(`${id} #${i}`, () => {
        const out = expectValid(id, input);
        const expected = { ...input };
        // The GCP key file comes out as the parsed object, whether it went in as object or text.
        if (typeof expected.service_account_json === "string") expected.service_account_json = JSON.parse(expected.service_account_json);
        expect(out).toEqual(expected);
      });
    });
  }

  it("the generated key is a PKCS#8 PEM", () => {
    expect(PEM.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(PEM.trimEnd().endsWith("-----END PRIVATE KEY-----")).toBe(true);
  });

  it("the valid examples have the documented shapes", () => {
    expect(AWS_AKIA).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(AWS_ASIA).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(AWS_SECRET).toMatch(/^[A-Za-z0-9/+=]{40}$/);
    expect(GEMINI_STANDARD).toHaveLength(39);
    expect(ANTHROPIC_ADMIN).toMatch(/^sk-ant-admin01-[A-Za-z0-9_-]{93}AA$/);
    expect(ANTHROPIC_API).toHaveLength(108);
    expect(AZURE_SECRET).toMatch(/^[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}$/);
    expect(OCI_USER.length - "ocid1.user.oc1..".length).toBe(60);
  });

  it("the GCP key file's token_uri may be anything: it is kept but never used", () => {
    const file = { ...GCP_KEY_FILE, token_uri: "https://evil.example.com/token", auth_uri: "http://169.254.169.254/" };
    for (const id of ["gcp", "gcp_vertex"]) {
      const out = expectValid(id, { service_account_json: file });
      expect((out.service_account_json as Record<string, unknown>).token_uri).toBe("https://evil.example.com/token");
      const outText = expectValid(id, { service_account_json: JSON.stringify(file) });
      expect(outText.service_account_json).toEqual(file);
    }
  });

  it("whitespace around every string value is trimmed", () => {
    for (const [id, examples] of Object.entries(VALID)) {
      for (const input of examples) {
        const padded: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(input)) padded[k] = typeof v === "string" ? ` \t${v}\n  ` : v;
        const expected = expectValid(id, input);
        expect(expectValid(id, padded), id).toEqual(expected);
      }
    }
  });

  it("a required value of only whitespace is missing", () => {
    expectInvalid("openai", { api_key: "   \n\t" }, { api_key: "is required" });
    expectInvalid("aws_iam", { role_arn: " " }, { role_arn: "is required" });
    expectInvalid("gcp", { service_account_json: "" }, { service_account_json: "is required" });
  });

  it("optional fields given as empty strings or null are dropped from the output", () => {
    let checked = 0;
    for (const id of concreteIds()) {
      const optional = provider(id).fields.filter((x) => !x.required);
      for (const fd of optional) {
        for (const empty of ["", null, "   "]) {
          const out = expectValid(id, { ...validOf(id), [fd.name]: empty });
          expect(Object.keys(out), `${id}.${fd.name}=${JSON.stringify(empty)}`).not.toContain(fd.name);
          expect(out).toEqual(expectValid(id, validOf(id)));
          checked++;
        }
      }
    }
    // session_token, passphrase, organization_id, location, api_key, base_url, notes
    expect(checked).toBe(7 * 3);
  });

  it("an OCI key pasted with literal \\n escapes is normalized to real newlines", () => {
    const escaped = PEM.trim().replace(/\n/g, "\\n");
    const out = expectValid("oci", { ...validOf("oci"), private_key: escaped });
    expect(out.private_key).toBe(PEM);
  });

  it("one canonical credential: a PEM pasted escaped, with CRLF, or padded comes out byte-identical, so the fingerprint is the same", async () => {
    const { canonicalize, fingerprintOf } = await import("../kms/fingerprint");
    const pepper = Buffer.alloc(32, 7);
    const forms = [PEM, PEM.trim(), PEM.replace(/\n/g, "\\n"), PEM.replace(/\n/g, "\r\n"), `  ${PEM}\n\n`];
    const oci = forms.map((pem) => expectValid("oci", { ...validOf("oci"), private_key: pem }));
    for (const out of oci) expect(out.private_key).toBe(PEM);
    expect(new Set(oci.map((o) => fingerprintOf(canonicalize(o), pepper))).size).toBe(1);

    // The GCP key file: object or text, its private_key escaped or not, is one canonical object.
    const gcp = [
      { service_account_json: GCP_KEY_FILE },
      { service_account_json: JSON.stringify(GCP_KEY_FILE) },
      { service_account_json: { ...GCP_KEY_FILE, private_key: PEM.replace(/\n/g, "\\n") } },
      { service_account_json: { ...GCP_KEY_FILE, private_key: PEM.replace(/\n/g, "\r\n") } },
    ].map((input) => expectValid("gcp", input));
    for (const out of gcp) expect((out.service_account_json as Record<string, unknown>).private_key).toBe(PEM);
    expect(new Set(gcp.map((o) => fingerprintOf(canonicalize(o), pepper))).size).toBe(1);
  });

  it("an encrypted or RSA PEM header is accepted for OCI", () => {
    const rsa = crypto.createPrivateKey(PEM).export({ type: "pkcs1", format: "pem" }) as string;
    expect(rsa.startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
    expectValid("oci", { ...validOf("oci"), private_key: rsa });
    const enc = crypto
      .createPrivateKey(PEM)
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw-for-test" }) as string;
    expect(enc.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----")).toBe(true);
    expectValid("oci", { ...validOf("oci"), private_key: enc, passphrase: "pw-for-test" });
  });
});

// ------------------------------------------------------------------ generic invalid input, every provider

describe("invalid input, every provider", () => {
  for (const id of Object.keys(VALID)) {
    const p = () => provider(id);

    it(`${id}: missing required fields are each named "is required"`, () => {
      const expected: Record<string, string> = {};
      for (const fd of p().fields) if (fd.required) expected[fd.name] = "is required";
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      expectInvalid(id, {}, expected);
      // One at a time too: only the missing one is named.
      for (const name of Object.keys(expected)) {
        const input = validOf(id);
        delete input[name];
        expectInvalid(id, input, { [name]: "is required" });
      }
    });

    it(`${id}: a number instead of a string is the wrong type`, () => {
      for (const fd of p().fields) {
        const input = { ...validOf(id), [fd.name]: 1234567890123 };
        const want = fd.format === "gcp_service_account" ? /JSON object/ : "must be a string";
        expectInvalid(id, input, { [fd.name]: want });
      }
    });

    it(`${id}: an unknown extra field is not a field of this provider`, () => {
      expectInvalid(id, { ...validOf(id), extra_field: "sk-admin-should-not-be-here" }, { extra_field: "is not a field of this provider" });
      expectInvalid(id, { ...validOf(id), Api_Key: "x", "": "y" }, {
        Api_Key: "is not a field of this provider",
        "(unknown field)": "is not a field of this provider",
      });
      // A secret pasted as a field name is never echoed back.
      const pasted = "sk-admin-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
      const r = parseCredential(id, { ...validOf(id), [pasted]: true });
      expect(r.success).toBe(false);
      if (!r.success) expect(JSON.stringify(issuesToFields(r.error))).not.toContain("AbCdEfGh");
    });

    it(`${id}: a credential that is not an object`, () => {
      for (const bad of ["just a string", 42, null, ["a"]]) {
        const r = parseCredential(id, bad);
        expect(r.success).toBe(false);
        expect(Object.keys(issuesToFields((r as { error: z.ZodError }).error))).toEqual(["(body)"]);
      }
    });
  }
});

// ------------------------------------------------------------------ per-provider rules

describe("gcp / gcp_vertex service account key file", () => {
  const canary = '{"type": "service_account", "private_key": "SECRET-CANARY';

  for (const id of ["gcp", "gcp_vertex"]) {
    const bad = (file: unknown, want: RegExp) => {
      const got = expectInvalid(id, { service_account_json: file }, { service_account_json: want });
      // A message about the key file never quotes the private key, whichever form the file took.
      expect(got.service_account_json).not.toContain(PEM_BODY_LINE);
      expect(got.service_account_json).not.toContain("PRIVATE KEY-----\n");
      return got.service_account_json!;
    };
    const without = (k: keyof typeof GCP_KEY_FILE) => {
      const f: Record<string, unknown> = { ...GCP_KEY_FILE };
      delete f[k];
      return f;
    };

    it(`${id}: text that is not JSON is rejected without quoting any of it`, () => {
      const msg = bad(canary, /not valid JSON/);
      expect(msg).not.toContain("SECRET-CANARY");
      expect(msg).not.toContain("CANARY");
      expect(msg).not.toContain("service_account");
      expect(msg).not.toContain("private_key");
      // JSON.parse's own message would quote the input: make sure that is what we avoided.
      let native = "";
      try {
        JSON.parse(canary);
      } catch (e) {
        native = (e as Error).message;
      }
      expect(native).not.toBe(msg);
      bad(GCP_KEY_TEXT.slice(0, -10), /not valid JSON/);
    });

    it(`${id}: JSON that is not an object`, () => {
      bad("[1,2,3]", /JSON object/);
      bad('"service_account"', /JSON object/);
      bad([GCP_KEY_FILE], /JSON object/);
    });

    it(`${id}: type authorized_user / external_account / impersonated / missing is refused`, () => {
      const userCreds = {
        type: "authorized_user",
        client_id: "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
        client_secret: "GOCSPX-" + chars(URLSAFE, 28, 30),
        refresh_token: "1//0g" + chars(URLSAFE, 100, 31),
      };
      expect(bad(userCreds, /"type": "service_account"/)).toMatch(/not user or external-account/);
      bad({ ...userCreds, type: "external_account", audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x", credential_source: { url: "http://169.254.169.254/token" } }, /"type": "service_account"/);
      bad({ ...GCP_KEY_FILE, type: "impersonated_service_account" }, /"type": "service_account"/);
      bad(without("type"), /"type": "service_account"/);
      bad(JSON.stringify({ ...userCreds }), /"type": "service_account"/);
      // A type value that is not an identifier is not echoed back.
      const weird = bad({ ...GCP_KEY_FILE, type: "SECRET-CANARY value" }, /"type": "service_account"/);
      expect(weird).not.toContain("CANARY");
    });

    it(`${id}: client_email missing or outside gserviceaccount.com`, () => {
      bad(without("client_email"), /client_email/);
      bad({ ...GCP_KEY_FILE, client_email: "finops@gmail.com" }, /client_email/);
      bad({ ...GCP_KEY_FILE, client_email: "finops@gserviceaccount.com.evil.example.com" }, /client_email/);
      bad({ ...GCP_KEY_FILE, client_email: 12 }, /client_email/);
    });

    it(`${id}: private_key missing or not PEM`, () => {
      bad(without("private_key"), /private_key in PEM/);
      bad({ ...GCP_KEY_FILE, private_key: "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + PEM_BODY_LINE }, /private_key in PEM/);
      bad({ ...GCP_KEY_FILE, private_key: "-----BEGIN PUBLIC KEY-----\n" + PEM_BODY_LINE + "\n-----END PUBLIC KEY-----\n" }, /private_key in PEM/);
    });

    it(`${id}: private_key_id missing`, () => {
      bad(without("private_key_id"), /private_key_id/);
    });

    it(`${id}: project_id missing or malformed`, () => {
      bad(without("project_id"), /project_id/);
      for (const pid of ["My_Project", "abc", "1finops-prod", "finops-prod-", "a".repeat(31)]) {
        bad({ ...GCP_KEY_FILE, project_id: pid }, /project_id \(6–30/);
      }
    });

    it(`${id}: a foreign universe_domain is refused`, () => {
      bad({ ...GCP_KEY_FILE, universe_domain: "s3nsapis.fr" }, /googleapis\.com universe/);
      bad({ ...GCP_KEY_FILE, universe_domain: "" }, /googleapis\.com universe/);
    });
  }

  it("gcp_vertex: a malformed location is named", () => {
    for (const location of ["us central1", "US-CENTRAL1", "us-central1.evil.example.com", "https://x"]) {
      expectInvalid("gcp_vertex", { service_account_json: GCP_KEY_FILE, location }, { location: /Vertex AI location/ });
    }
  });

  it("checkGcpServiceAccount returns the object, or a message only", () => {
    const ok = checkGcpServiceAccount(GCP_KEY_TEXT);
    expect(ok).toEqual({ object: GCP_KEY_FILE });
    const no = checkGcpServiceAccount(canary);
    expect(Object.keys(no)).toEqual(["message"]);
  });
});

describe("aws_keys", () => {
  it("the AWS documentation example key is rejected", () => {
    expectInvalid("aws_keys", { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: AWS_SECRET }, {
      access_key_id: "is AWS's documentation example, not a real key",
    });
  });

  it("an ASIA key without a session token", () => {
    expectInvalid("aws_keys", { access_key_id: AWS_ASIA, secret_access_key: AWS_SECRET }, {
      session_token: "is required for temporary (ASIA…) access keys",
    });
    expectInvalid("aws_keys", { access_key_id: AWS_ASIA, secret_access_key: AWS_SECRET, session_token: "  " }, {
      session_token: "is required for temporary (ASIA…) access keys",
    });
  });

  it("access key ids that are not AKIA/ASIA ids", () => {
    for (const bad of ["akia" + AWS_AKIA.slice(4), "ABIA" + AWS_AKIA.slice(4), "AKIA" + "abc", AWS_AKIA + "-x", "AKIA 1234567890ABCDEF"]) {
      expectInvalid("aws_keys", { access_key_id: bad, secret_access_key: AWS_SECRET }, { access_key_id: /must start with AKIA/ });
    }
  });

  it("a secret with spaces or of the wrong length", () => {
    for (const bad of ["wJalrXUtnFEMI K7MDENG bPxRfiCYEXAMPLEKEY", "short", "x".repeat(129)]) {
      expectInvalid("aws_keys", { access_key_id: AWS_AKIA, secret_access_key: bad }, { secret_access_key: /40-character secret/ });
    }
  });

  it("several problems at once are each named", () => {
    expectInvalid("aws_keys", { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret_access_key: "a b", session_token: 5 }, {
      access_key_id: /documentation example/,
      secret_access_key: /40-character secret/,
      session_token: "must be a string",
    });
  });
});

describe("aws_iam / aws_bedrock role ARNs", () => {
  const badArns = [
    "arn:aws:iam::55555555555:role/CostReader", // 11-digit account
    "arn:aws:iam::555555555555:user/bob",
    "arn:aws:sts::555555555555:assumed-role/CostReader/session",
    "arn:aws-moon:iam::555555555555:role/CostReader",
    "arn:aws:iam::555555555555:role/" + "r".repeat(65),
    "arn:aws:iam::555555555555:role/",
    "arn:aws:iam::555555555555:role/service-role/Cost Reader",
    "CostReaderRole",
  ];
  for (const id of ["aws_iam", "aws_bedrock"]) {
    it(`${id}: malformed ARNs are rejected`, () => {
      for (const role_arn of badArns) {
        const input = id === "aws_iam" ? { role_arn } : { role_arn, region: "us-east-1" };
        expectInvalid(id, input, { role_arn: /must be an IAM role ARN/ });
      }
    });
  }

  it("aws_iam takes no external_id from the user", () => {
    expectInvalid("aws_iam", { role_arn: ROLE_ARNS[0], external_id: "my-own-id" }, { external_id: "is not a field of this provider" });
  });

  it("aws_bedrock: a malformed region is named", () => {
    for (const region of ["us-east", "US-EAST-1", "useast1", "us-east-1.evil.example.com"]) {
      expectInvalid("aws_bedrock", { role_arn: ROLE_ARNS[0], region }, { region: /AWS region/ });
    }
  });
});

describe("azure / azure_openai service principals", () => {
  for (const id of ["azure", "azure_openai"]) {
    it(`${id}: malformed tenant, client id and secret are each named`, () => {
      const base = validOf(id);
      expectInvalid(id, { ...base, tenant_id: "contoso onmicrosoft com" }, { tenant_id: /tenant/ });
      expectInvalid(id, { ...base, tenant_id: "https://login.microsoftonline.com/contoso" }, { tenant_id: /tenant/ });
      expectInvalid(id, { ...base, client_id: "my-app" }, { client_id: /application GUID/ });
      expectInvalid(id, { ...base, client_id: GUID_CLIENT + "0" }, { client_id: /application GUID/ });
      expectInvalid(id, { ...base, client_secret: "has a space" + AZURE_SECRET }, { client_secret: /secret value/ });
    });
  }

  it("azure: a malformed subscription id", () => {
    expectInvalid("azure", { ...validOf("azure"), subscription_id: "/subscriptions/" + GUID_SUB }, { subscription_id: /subscription GUID/ });
  });

  it("azure_openai: only the two Azure OpenAI host kinds, https, no path", () => {
    for (const endpoint of [
      "http://my-resource.openai.azure.com",
      "https://my-resource.openai.azure.com.evil.example.com",
      "https://evil.example.com",
      "https://my-resource.openai.azure.com/openai/v1",
      "https://My-Resource.openai.azure.com",
      "https://-x.cognitiveservices.azure.com",
      "my-resource.openai.azure.com",
    ]) {
      expectInvalid("azure_openai", { ...validOf("azure_openai"), endpoint }, { endpoint: /openai\.azure\.com or/ });
    }
  });
});

describe("oci", () => {
  it("malformed OCIDs, fingerprint, key and region are each named", () => {
    const base = validOf("oci");
    expectInvalid("oci", { ...base, tenancy_ocid: OCI_USER }, { tenancy_ocid: /tenancy OCID/ });
    expectInvalid("oci", { ...base, user_ocid: OCI_TENANCY }, { user_ocid: /user OCID/ });
    expectInvalid("oci", { ...base, fingerprint: OCI_FINGERPRINT.toUpperCase() }, { fingerprint: /16 lowercase hex pairs/ });
    expectInvalid("oci", { ...base, fingerprint: OCI_FINGERPRINT.slice(3) }, { fingerprint: /16 lowercase hex pairs/ });
    expectInvalid("oci", { ...base, private_key: PEM_BODY_LINE }, { private_key: /PEM private key/ });
    expectInvalid("oci", { ...base, private_key: "-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY_LINE + "\n-----END OPENSSH PRIVATE KEY-----" }, {
      private_key: /PEM private key/,
    });
    for (const region of ["us_ashburn_1", "US-ASHBURN-1", "us-ashburn-1.evil.example.com", "ashburn"]) {
      expectInvalid("oci", { ...base, region }, { region: /OCI region/ });
    }
  });
});

describe("openai / anthropic / gemini keys", () => {
  it("openai: pattern violations", () => {
    for (const key of ["pk-admin-" + chars(ALNUM, 40, 40), "sk-short", "sk-admin-" + chars(ALNUM, 20, 41) + " " + chars(ALNUM, 20, 42), "Bearer " + OPENAI_ADMIN]) {
      expectInvalid("openai", { api_key: key }, { api_key: /starts with sk-/ });
    }
    expectInvalid("openai", { api_key: OPENAI_ADMIN, organization_id: "acme-corp" }, { organization_id: /org-XXXXXXXX/ });
  });

  it("anthropic: Claude.ai OAuth tokens are rejected, other shapes fail the pattern", () => {
    expectInvalid("anthropic", { api_key: ANTHROPIC_OAUTH }, { api_key: /Claude\.ai subscription token/ });
    expectInvalid("anthropic", { api_key: "sk-ant-ort01-" + chars(URLSAFE, 93, 43) + "AA" }, { api_key: /Claude\.ai subscription token/ });
    for (const key of [OPENAI_ADMIN, "sk-ant-short", "sk-ant-api03-" + chars(ALNUM, 30, 44) + "!"]) {
      expectInvalid("anthropic", { api_key: key }, { api_key: /starts with sk-ant-/ });
    }
  });

  it("gemini: pattern violations", () => {
    for (const key of [GEMINI_STANDARD.slice(0, 38), GEMINI_STANDARD + "x", "AQ.short", "aq." + chars(ALNUM, 40, 45), OPENAI_ADMIN]) {
      expectInvalid("gemini", { api_key: key }, { api_key: /Gemini API key/ });
    }
  });
});

describe("saas_<vendor>", () => {
  it("resolves through the template and checks its fields", () => {
    expect(provider("saas_datadog").registryId).toBe("saas");
    expectInvalid("saas_datadog", { display_name: "Datadog", base_url: "http://api.datadoghq.com" }, { base_url: /https:\/\/ URL/ });
    expectInvalid("saas_datadog", { display_name: "Datadog", base_url: "https://api.example.com/ x" }, { base_url: /https:\/\/ URL/ });
    expectInvalid("saas_datadog", { display_name: "Data\u0007dog" }, { display_name: /printable/ });
    expectInvalid("saas_datadog", { display_name: "x".repeat(101) }, { display_name: /1–100/ });
    expectInvalid("saas_datadog", { display_name: "Datadog", api_key: "has spaces in it" }, { api_key: /no spaces/ });
    expectInvalid("saas_datadog", { display_name: "Datadog", notes: "n".repeat(2001) }, { notes: "must be at most 2000 characters" });
    expectValid("saas_datadog", { display_name: "Datadog", notes: "n".repeat(2000) });
  });
});

// ------------------------------------------------------------------ metadata

describe("metadata", () => {
  const parseMeta = (id: string, input: unknown) => buildMetadataSchema(provider(id)).safeParse(input);
  const metaOk = (id: string, input: Record<string, unknown>) => {
    const r = parseMeta(id, input);
    if (!r.success) throw new Error(`${id} rejected metadata: ${JSON.stringify(issuesToFields(r.error))}`);
    return r.data;
  };
  const metaBad = (id: string, input: unknown, fields: Record<string, string | RegExp>) => {
    const r = parseMeta(id, input);
    expect(r.success, `${id} accepted metadata`).toBe(false);
    const got = issuesToFields((r as { error: z.ZodError }).error);
    expect(Object.keys(got).sort()).toEqual(Object.keys(fields).sort());
    for (const [k, want] of Object.entries(fields)) {
      if (typeof want === "string") expect(got[k]).toBe(want);
      else expect(got[k]).toMatch(want);
      expect(got[k]!.split(/\s+/).length).toBeLessThanOrEqual(40);
    }
  };

  const VALID_META: Record<string, Record<string, unknown>> = {
    gcp: {
      billing_account_id: "01A2B3-C4D5E6-F70819",
      billing_export_table: `${PROJECT}.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F70819`,
    },
    aws_iam: { cur_bucket: "acme-cur-reports", cur_prefix: "cur2/daily/", cur_region: "us-east-1" },
    aws_keys: { cur_bucket: "acme.cur.reports", cur_region: "eu-west-2", region: "cn-north-1" },
    azure: { cost_scope: `/subscriptions/${GUID_SUB}` },
    oci: { compartment_ocid: "ocid1.compartment.oc1..aaaaaaaa" + chars("abcdefghijklmnopqrstuvwxyz0123456789", 52, 50) },
    openai: { project_ids: ["proj_AbCdEf012345", "proj_ZyXw98765432"] },
    anthropic: { workspace_ids: ["wrkspc_01AbCdEfGh"] },
    gemini: { gcp_project_id: PROJECT },
    azure_openai: { resource_group: "rg-finops_prod.1" },
    aws_bedrock: { cur_bucket: "acme-cur-reports" },
    gcp_vertex: { billing_export_table: `${PROJECT}.billing.gcp_billing_export_resource_v1_01A2B3_C4D5E6_F70819` },
    saas_datadog: { currency: "EUR", monthly_amount: "1250.00", renewal_date: "2027-01-31" },
  };

  it("there is valid metadata for every provider, and it covers every provider key", () => {
    expect(Object.keys(VALID_META).sort()).toEqual(concreteIds().sort());
    for (const id of concreteIds()) {
      expect(Object.keys(VALID_META[id]!).sort(), id).toEqual(
        provider(id)
          .metadata.map((m) => m.key)
          .filter((k) => !(id === "aws_keys" && k === "cur_prefix") && !(id === "aws_bedrock" && k !== "cur_bucket"))
          .sort(),
      );
    }
  });

  for (const id of Object.keys(VALID_META)) {
    it(`${id}: label, tags and the provider's own keys`, () => {
      expect(metaOk(id, {})).toEqual({});
      const full = { label: "prod org", tags: { env: "prod", "cost-center": "4711" }, ...VALID_META[id] };
      expect(metaOk(id, full)).toEqual(full);
      expect(metaOk(id, { label: "  padded  " })).toEqual({ label: "padded" });

      // label ≤ 100
      expect(metaOk(id, { label: "l".repeat(LABEL_MAX) })).toEqual({ label: "l".repeat(LABEL_MAX) });
      metaBad(id, { label: "l".repeat(LABEL_MAX + 1) }, { label: "must be at most 100 characters" });
      metaBad(id, { label: 42 }, { label: "must be a string" });

      // tags ≤ 20, string → string
      const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
      expect(metaOk(id, { tags: tags(TAGS_MAX) })).toEqual({ tags: tags(TAGS_MAX) });
      metaBad(id, { tags: tags(TAGS_MAX + 1) }, { tags: "must have at most 20 entries" });
      metaBad(id, { tags: { env: 1 } }, { "tags.env": "tag values must be strings" });
      metaBad(id, { tags: { env: { nested: "x" } } }, { "tags.env": "tag values must be strings" });
      metaBad(id, { tags: "env=prod" }, { tags: /string → string/ });
      metaBad(id, { tags: ["env", "prod"] }, { tags: /string → string/ });
      metaBad(id, { tags: { "bad key with spaces": "x" } }, { "tags.bad key with spaces": /tag names must be 1–64/ });
      // A name too long to be a tag name is not echoed: it may be a pasted secret.
      metaBad(id, { tags: { ["k".repeat(65)]: "x" } }, { "tags.(hidden name)": /tag names must be 1–64/ });
      metaBad(id, { tags: { "sk-admin-AbCdEfGhIjKlMnOpQrStUvWx": 7 } }, { "tags.(hidden name)": "tag values must be strings" });
      metaBad(id, { tags: { AKIAIOSFODNN7EXAMPLE: "v".repeat(257) } }, { "tags.(hidden name)": "tag values must be at most 256 characters" });
      metaBad(id, { tags: { env: "v".repeat(257) } }, { "tags.env": "tag values must be at most 256 characters" });

      // unknown keys
      metaBad(id, { billing_contact: "ops@example.com" }, { billing_contact: "is not a field of this provider" });
      metaBad(id, { Label: "x", tag: {} }, { Label: "is not a field of this provider", tag: "is not a field of this provider" });

      // the provider's own keys: wrong type, empty, pattern
      for (const m of provider(id).metadata) {
        if (m.type === "string_list") {
          metaBad(id, { [m.key]: "single" }, { [m.key]: "must be a list of strings" });
          metaBad(id, { [m.key]: [7] }, { [`${m.key}.0`]: "must be a string" });
          if (m.pattern) metaBad(id, { [m.key]: [...(VALID_META[id]![m.key] as string[]), "not valid!"] }, { [`${m.key}.${(VALID_META[id]![m.key] as string[]).length}`]: m.message! });
        } else {
          metaBad(id, { [m.key]: 7 }, { [m.key]: "must be a string" });
          metaBad(id, { [m.key]: ["x"] }, { [m.key]: "must be a string" });
          metaBad(id, { [m.key]: "   " }, { [m.key]: "must not be empty" });
          if (m.pattern) metaBad(id, { [m.key]: "not valid!" }, { [m.key]: m.message! });
        }
      }
    });
  }

  it("provider keys are checked against their patterns", () => {
    metaBad("openai", { project_ids: ["proj_ok12345678", "project-1"] }, { "project_ids.1": /OpenAI project ids/ });
    metaBad("saas_datadog", { currency: "usd" }, { currency: /ISO 4217/ });
    metaBad("saas_datadog", { currency: "EURO" }, { currency: /ISO 4217/ });
    metaBad("saas_datadog", { monthly_amount: "1,250.00" }, { monthly_amount: /decimal amount/ });
    metaBad("saas_datadog", { renewal_date: "31/01/2027" }, { renewal_date: /YYYY-MM-DD/ });
    metaBad("gcp", { billing_account_id: "01a2b3-c4d5e6-f70819" }, { billing_account_id: /012345-6789AB-CDEF01/ });
    metaBad("gcp", { billing_export_table: "billing.gcp_billing_export_v1_01A2B3_C4D5E6_F70819" }, { billing_export_table: /project\.dataset/ });
    metaBad("aws_iam", { cur_bucket: "Acme_CUR" }, { cur_bucket: /S3 bucket name/ });
    metaBad("aws_iam", { cur_prefix: "p".repeat(513) }, { cur_prefix: "must be at most 512 characters" });
    metaBad("azure", { cost_scope: "subscriptions/x" }, { cost_scope: /ARM scope/ });
    // one provider's keys are unknown to another
    metaBad("anthropic", { project_ids: ["proj_AbCdEf012345"] }, { project_ids: "is not a field of this provider" });
    metaBad("gcp", { currency: "USD" }, { currency: "is not a field of this provider" });
  });

  it("metadata that is not an object", () => {
    for (const bad of ["label", 1, null, []]) {
      const r = parseMeta("openai", bad);
      expect(r.success).toBe(false);
      expect(Object.keys(issuesToFields((r as { error: z.ZodError }).error))).toEqual(["(body)"]);
    }
  });
});

// ------------------------------------------------------------------ warnings

describe("credentialWarnings", () => {
  const warn = (id: string, cred: Record<string, unknown>) => credentialWarnings(provider(id), expectValid(id, cred));

  it("a good admin key gives no warning", () => {
    expect(warn("openai", { api_key: OPENAI_ADMIN })).toEqual({});
    expect(warn("anthropic", { api_key: ANTHROPIC_ADMIN })).toEqual({});
    expect(warn("gemini", { api_key: GEMINI_AUTH })).toEqual({});
    expect(warn("aws_keys", { access_key_id: AWS_AKIA, secret_access_key: AWS_SECRET })).toEqual({});
    expect(warn("azure", validOf("azure"))).toEqual({});
  });

  it("OpenAI non-admin keys warn on api_key", () => {
    for (const key of [OPENAI_PROJECT, OPENAI_LEGACY, OPENAI_SVCACCT]) {
      const w = warn("openai", { api_key: key });
      expect(w).toEqual({ api_key: expect.stringMatching(/not an Admin key/) });
      expect(w.api_key).not.toContain(key);
    }
  });

  it("Anthropic non-admin keys warn on api_key", () => {
    expect(warn("anthropic", { api_key: ANTHROPIC_API })).toEqual({ api_key: expect.stringMatching(/not an Admin key/) });
  });

  it("Gemini standard (AIza) keys warn", () => {
    const w = warn("gemini", { api_key: GEMINI_STANDARD });
    expect(w).toEqual({ api_key: expect.stringMatching(/standard \(AIza…\) key/) });
    expect(w.api_key).not.toContain(GEMINI_STANDARD);
  });

  it("AWS keys of an odd shape warn on the field that looks odd", () => {
    const oddSecret = chars(ALNUM, 39, 60) + "-";
    expect(warn("aws_keys", { access_key_id: AWS_AKIA, secret_access_key: oddSecret })).toEqual({
      secret_access_key: expect.stringMatching(/looks unlike/),
    });
    expect(warn("aws_keys", { access_key_id: AWS_AKIA, secret_access_key: AWS_SECRET + "ABCD" })).toEqual({
      secret_access_key: expect.any(String),
    });
    // 0, 1, 8, 9 are not in today's base32 alphabet; 24 characters is longer than today's ids.
    expect(warn("aws_keys", { access_key_id: "AKIA0189ABCDEFGHIJKL", secret_access_key: AWS_SECRET })).toEqual({
      access_key_id: expect.any(String),
    });
    expect(warn("aws_keys", { access_key_id: AWS_AKIA + "ABCD", secret_access_key: AWS_SECRET })).toEqual({
      access_key_id: expect.any(String),
    });
  });

  it("an Azure secret ID (a GUID) pasted instead of the secret value warns", () => {
    expect(warn("azure", { ...validOf("azure"), client_secret: GUID_CLIENT })).toEqual({
      client_secret: expect.stringMatching(/secret value, not its ID/),
    });
  });

  it("providers without warn patterns never warn", () => {
    for (const id of ["gcp", "aws_iam", "oci", "aws_bedrock", "gcp_vertex", "saas_datadog"]) {
      for (const input of VALID[id]!) expect(warn(id, input), id).toEqual({});
    }
  });
});
