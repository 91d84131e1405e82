import fs from "node:fs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

import { PROTOCOLS } from "./protocols/index";
import {
  CATEGORY_IDS,
  CONNECTION_TEST_KINDS,
  ENDPOINT_ENV_VARS,
  REGISTRY_PATH,
  RegistryError,
  getRegistry,
  parseRegistry,
  resolveProvider,
  type ProviderDef,
  type Registry,
} from "./registry";

/**
 * The registry lint: configs/system/providers.yml against docs/api.md ("Credential fields per
 * provider") and docs/operations.md ("Provider endpoints"), and against the rules every provider must follow. A new
 * provider, field or endpoint that breaks a rule fails here, not in production.
 */

// ------------------------------------------------------------------ what docs/api.md promises

type ExpectedField = { name: string; secret: boolean; required: boolean };
type ExpectedProvider = {
  category: "cloud" | "genai" | "saas";
  credential_type_label: string;
  fields: ExpectedField[];
};

const f = (name: string, opts: { secret?: boolean; required?: boolean } = {}): ExpectedField => ({
  name,
  secret: opts.secret ?? false,
  required: opts.required ?? true,
});

/** docs/api.md, "Credential fields per provider" (`?` = optional; bold = secret). */
const API_MD_PROVIDERS: Record<string, ExpectedProvider> = {
  gcp: {
    category: "cloud",
    credential_type_label: "Service Account JSON",
    fields: [f("service_account_json", { secret: true })],
  },
  aws_iam: { category: "cloud", credential_type_label: "IAM Role ARN", fields: [f("role_arn")] },
  aws_keys: {
    category: "cloud",
    credential_type_label: "Access Key + Secret",
    fields: [f("access_key_id"), f("secret_access_key", { secret: true }), f("session_token", { secret: true, required: false })],
  },
  azure: {
    category: "cloud",
    credential_type_label: "Service Principal JSON",
    fields: [f("tenant_id"), f("client_id"), f("client_secret", { secret: true }), f("subscription_id")],
  },
  oci: {
    category: "cloud",
    credential_type_label: "API Key",
    fields: [
      f("tenancy_ocid"),
      f("user_ocid"),
      f("fingerprint"),
      f("private_key", { secret: true }),
      f("passphrase", { secret: true, required: false }),
      f("region"),
    ],
  },
  openai: {
    category: "genai",
    credential_type_label: "API Key",
    fields: [f("api_key", { secret: true }), f("organization_id", { required: false })],
  },
  anthropic: { category: "genai", credential_type_label: "API Key", fields: [f("api_key", { secret: true })] },
  gemini: { category: "genai", credential_type_label: "API Key", fields: [f("api_key", { secret: true })] },
  azure_openai: {
    category: "genai",
    credential_type_label: "Service Principal",
    fields: [f("tenant_id"), f("client_id"), f("client_secret", { secret: true }), f("endpoint")],
  },
  aws_bedrock: { category: "genai", credential_type_label: "IAM Role", fields: [f("role_arn"), f("region")] },
  gcp_vertex: {
    category: "genai",
    credential_type_label: "Service Account",
    fields: [f("service_account_json", { secret: true }), f("location", { required: false })],
  },
  saas: {
    category: "saas",
    credential_type_label: "Manual entry",
    fields: [
      f("display_name"),
      f("api_key", { secret: true, required: false }),
      f("base_url", { required: false }),
      f("notes", { required: false }),
    ],
  },
};

/** docs/operations.md, "Provider endpoints": the only variables an endpoint may use. */
const API_MD_ENDPOINT_VARS = [
  "OPENAI_API_BASE",
  "ANTHROPIC_API_BASE",
  "GEMINI_API_BASE",
  "GOOGLE_OAUTH_TOKEN_URL",
  "GOOGLE_CRM_API_BASE",
  "GOOGLE_BIGQUERY_API_BASE",
  "GOOGLE_VERTEX_API_BASE",
  "AWS_STS_ENDPOINT",
  "AWS_CE_ENDPOINT",
  "AWS_BEDROCK_ENDPOINT",
  "AZURE_AUTHORITY_HOST",
  "AZURE_MANAGEMENT_BASE",
  "AZURE_OPENAI_ENDPOINT_OVERRIDE",
  "OCI_IDENTITY_ENDPOINT",
  "OCI_USAGE_ENDPOINT",
];

/**
 * Fields whose name or label looks secret but which are identifiers, shown in the UI and stored
 * in the clear on purpose. Anything else that looks secret must be `secret: true`: add to this
 * list only after deciding the value is not a secret.
 */
const NOT_SECRET_ALLOW_LIST = new Set([
  "aws_keys.access_key_id", // "Access key ID": the public half of the key pair, shown in the IAM console
  "oci.fingerprint", // "Key fingerprint": MD5 of the public key, shown next to the key in the console
]);
const SECRET_LOOKING = /(secret|key|token|password|passphrase|private|service_account_json)/i;

// ------------------------------------------------------------------ helpers

const registry = getRegistry();
const byId = (id: string): ProviderDef => {
  const p = registry.providers.find((x) => x.id === id);
  if (!p) throw new Error(`provider ${id} missing from the registry`);
  return p;
};

/** Every regex in one provider, with where it sits (for the failure message). */
function regexesOf(p: ProviderDef): Array<{ where: string; source: string; anchored: boolean }> {
  const out: Array<{ where: string; source: string; anchored: boolean }> = [];
  // `anchored`: patterns that accept or reject a whole value (or a host) must be ^…$; prefix
  // tests (warn_pattern, reject, required_when) only need ^.
  if (p.id_pattern) out.push({ where: `${p.id}.id_pattern`, source: p.id_pattern, anchored: true });
  for (const fd of p.fields) {
    if (fd.pattern) out.push({ where: `${p.id}.fields.${fd.name}.pattern`, source: fd.pattern, anchored: true });
    if (fd.warn_pattern) out.push({ where: `${p.id}.fields.${fd.name}.warn_pattern`, source: fd.warn_pattern, anchored: false });
    (fd.reject ?? []).forEach((r, i) =>
      out.push({ where: `${p.id}.fields.${fd.name}.reject.${i}.pattern`, source: r.pattern, anchored: false }),
    );
    if (fd.required_when) {
      out.push({ where: `${p.id}.fields.${fd.name}.required_when.pattern`, source: fd.required_when.pattern, anchored: false });
    }
  }
  for (const m of p.metadata) {
    if (m.pattern) out.push({ where: `${p.id}.metadata.${m.key}.pattern`, source: m.pattern, anchored: true });
  }
  (p.allowed_hosts ?? []).forEach((h, i) => out.push({ where: `${p.id}.allowed_hosts.${i}`, source: h, anchored: true }));
  return out;
}

function expectRegistryError(text: string, ...parts: Array<string | RegExp>): RegistryError {
  let caught: unknown;
  try {
    parseRegistry(text, "test-providers.yml");
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RegistryError);
  const err = caught as RegistryError;
  expect(err.name).toBe("RegistryError");
  expect(err.message).toContain("test-providers.yml");
  for (const part of parts) {
    if (typeof part === "string") expect(err.message).toContain(part);
    else expect(err.message).toMatch(part);
  }
  // Broken in one place → one issue line, so the message points at exactly that place.
  const issueLines = err.message.split("\n").filter((l) => l.startsWith("  - "));
  if (issueLines.length > 0) expect(issueLines, err.message).toHaveLength(1);
  return err;
}

/** A small valid registry document to break in one place at a time. */
function minimalDoc() {
  return {
    version: 1,
    categories: { cloud: { name: "Cloud" }, genai: { name: "GenAI" }, saas: { name: "SaaS" } },
    providers: [
      {
        id: "acme_ai",
        name: "Acme AI",
        category: "genai",
        credential_type: "api_key",
        credential_type_label: "API Key",
        description: "A test provider.",
        fields: [
          {
            name: "api_key",
            label: "API key",
            type: "secret",
            required: true,
            secret: true,
            pattern: "^ak-[a-z0-9]{16,}$",
            message: "must start with ak-",
          },
        ],
        metadata: [{ key: "project", label: "Project", type: "string", pattern: "^[a-z]+$", message: "must be lowercase" }],
        connection_test: { kind: "openai", checks: [{ name: "authenticate", description: "GET /v1/models" }] },
        cost_permissions: [],
        docs: [{ title: "Keys", url: "https://acme.example.com/docs" }],
        rate_limits: { requests_per_minute: 60, retry_headers: ["retry-after"] },
        endpoints: { api_base: { default: "https://api.openai.com", env: "OPENAI_API_BASE" } },
      },
    ],
  };
}
type Doc = ReturnType<typeof minimalDoc>;
const docText = (d: unknown) => YAML.stringify(d);
const firstProvider = (d: Doc) => d.providers[0]!;

// ------------------------------------------------------------------ the shipped registry

describe("shipped registry", () => {
  it("parses, and is the file the app loads", () => {
    expect(registry.version).toBe(1);
    expect(REGISTRY_PATH.endsWith("configs/system/providers.yml")).toBe(true);
    // getRegistry caches; parsing the file text again gives the same document.
    expect(parseRegistry(fs.readFileSync(REGISTRY_PATH, "utf8"))).toEqual(registry);
    expect(getRegistry()).toBe(registry);
  });

  it("has exactly the twelve providers of docs/api.md, in the categories docs/api.md gives", () => {
    expect(registry.providers.map((p) => p.id).sort()).toEqual(Object.keys(API_MD_PROVIDERS).sort());
    expect(Object.keys(registry.categories).sort()).toEqual([...CATEGORY_IDS].sort());
    for (const p of registry.providers) {
      expect({ id: p.id, category: p.category }).toEqual({ id: p.id, category: API_MD_PROVIDERS[p.id]!.category });
    }
  });

  it("only the saas entry is a template, with docs/api.md's vendor pattern", () => {
    expect(registry.providers.filter((p) => p.template).map((p) => p.id)).toEqual(["saas"]);
    expect(byId("saas").id_pattern).toBe("^saas_[a-z0-9][a-z0-9-]{1,39}$");
  });

  for (const [id, want] of Object.entries(API_MD_PROVIDERS)) {
    it(`${id}: credential type and fields (names, secret, required) match docs/api.md`, () => {
      const p = byId(id);
      expect(p.credential_type_label).toBe(want.credential_type_label);
      expect(p.fields.map((x) => ({ name: x.name, secret: x.secret, required: x.required }))).toEqual(want.fields);
    });
  }

  it("every field has a label; secret fields are never plain text inputs", () => {
    for (const p of registry.providers) {
      for (const fd of p.fields) {
        expect(fd.label.trim(), `${p.id}.${fd.name}.label`).not.toBe("");
        if (fd.secret) expect(fd.type, `${p.id}.${fd.name}.type`).not.toBe("text");
      }
    }
  });
});

describe("regexes", () => {
  const all = registry.providers.flatMap(regexesOf);

  it("the lint finds the regexes it is meant to check", () => {
    const kinds = new Set(all.map((r) => r.where.replace(/^[^.]+\.(fields|metadata)\.[^.]+\./, "$1.").replace(/\.\d+/g, "")));
    for (const k of [
      "fields.pattern",
      "fields.warn_pattern",
      "fields.reject.pattern",
      "fields.required_when.pattern",
      "metadata.pattern",
      "saas.id_pattern",
      "oci.allowed_hosts",
    ]) {
      expect([...kinds], k).toContain(k);
    }
  });

  it("every regex compiles", () => {
    const broken = all.filter((r) => {
      try {
        new RegExp(r.source);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.map((r) => r.where)).toEqual([]);
  });

  it("value, id and host patterns are anchored at both ends; prefix tests at the start", () => {
    const unanchored = all.filter((r) => !r.source.startsWith("^") || (r.anchored && !r.source.endsWith("$")));
    expect(unanchored.map((r) => r.where)).toEqual([]);
  });

  it("every pattern has a message (what to fix, for a person)", () => {
    for (const p of registry.providers) {
      for (const fd of p.fields) {
        if (fd.pattern) expect(fd.message, `${p.id}.${fd.name}.message`).toBeTruthy();
        if (fd.required_when) expect(fd.required_when.message, `${p.id}.${fd.name}.required_when.message`).toBeTruthy();
        for (const r of fd.reject ?? []) expect(r.message, `${p.id}.${fd.name}.reject.message`).toBeTruthy();
      }
      for (const m of p.metadata) if (m.pattern) expect(m.message, `${p.id}.metadata.${m.key}.message`).toBeTruthy();
    }
  });

  it("examples without an ellipsis satisfy their field's pattern", () => {
    for (const p of registry.providers) {
      for (const fd of p.fields) {
        if (!fd.example || !fd.pattern || fd.example.includes("…")) continue;
        expect(new RegExp(fd.pattern).test(fd.example), `${p.id}.${fd.name}.example`).toBe(true);
      }
    }
  });
});

describe("every provider is complete", () => {
  for (const p of registry.providers) {
    it(`${p.id}: category, credential type, fields, connection test, docs, rate limits`, () => {
      expect(CATEGORY_IDS).toContain(p.category);
      expect(registry.categories[p.category], `category ${p.category} is declared`).toBeDefined();
      expect(p.credential_type).toMatch(/^[a-z_]+$/);
      expect(p.credential_type_label.length).toBeGreaterThan(0);
      expect(p.fields.length).toBeGreaterThanOrEqual(1);
      expect(p.fields.some((x) => x.required), "at least one required field").toBe(true);
      expect(CONNECTION_TEST_KINDS).toContain(p.connection_test.kind);
      expect(p.connection_test.checks.length).toBeGreaterThanOrEqual(1);
      expect(new Set(p.connection_test.checks.map((c) => c.name)).size).toBe(p.connection_test.checks.length);
      if (p.id === "saas") {
        // The manual-entry template has no vendor to link to.
        expect(p.docs).toEqual([]);
      } else {
        expect(p.docs.length).toBeGreaterThanOrEqual(1);
        for (const d of p.docs) {
          expect(d.url, `${p.id} docs`).toMatch(/^https:\/\//);
          expect(d.title.length).toBeGreaterThan(0);
        }
      }
      expect(p.rate_limits.requests_per_minute).toBeGreaterThan(0);
      expect(Array.isArray(p.rate_limits.retry_headers)).toBe(true);
      expect(p.description.length).toBeGreaterThan(0);
    });
  }

  it("every connection_test kind has a protocol module in the exhaustive PROTOCOLS map: its test, authenticate() and setup help", () => {
    expect(Object.keys(PROTOCOLS).sort()).toEqual([...CONNECTION_TEST_KINDS].sort());
    for (const [kind, protocol] of Object.entries(PROTOCOLS)) {
      expect(typeof protocol.test, kind).toBe("function");
      expect(typeof protocol.authenticate, kind).toBe("function");
      expect(typeof protocol.setupInfo, kind).toBe("function");
    }
    for (const p of registry.providers) {
      expect(Object.keys(PROTOCOLS), p.id).toContain(p.connection_test.kind);
    }
  });

  it("every Google service-account provider proves what its cost pipeline needs: the billing export's job and table permissions, each with its role, the table's metadata key and the BigQuery endpoint", () => {
    const google = registry.providers.filter((p) => p.connection_test.kind === "gcp_service_account");
    expect(google.map((p) => p.id).sort()).toEqual(["gcp", "gcp_vertex"]);
    for (const p of google) {
      // Spend of every Google provider is read from the Cloud Billing export in BigQuery (docs/providers.md).
      expect(p.cost_permissions, p.id).toEqual(expect.arrayContaining(["bigquery.jobs.create", "bigquery.tables.getData"]));
      for (const permission of p.cost_permissions) expect(p.permission_roles?.[permission], `${p.id} ${permission}`).toMatch(/^roles\//);
      expect(p.metadata.map((m) => m.key), p.id).toContain("billing_export_table");
      expect(p.endpoints.bigquery_api_base?.env, p.id).toBe("GOOGLE_BIGQUERY_API_BASE");
    }
  });

  it("gcp_vertex asks only for read permissions and read-only roles: never a predict permission or Vertex AI User (docs/decisions/015-vertex-least-privilege.md)", () => {
    const vertex = registry.providers.find((p) => p.id === "gcp_vertex")!;
    expect(vertex.cost_permissions).toEqual(["aiplatform.endpoints.list", "bigquery.jobs.create", "bigquery.tables.getData"]);
    expect(vertex.permission_roles).toEqual({
      "aiplatform.endpoints.list": "roles/aiplatform.viewer",
      "bigquery.jobs.create": "roles/bigquery.jobUser",
      "bigquery.tables.getData": "roles/bigquery.dataViewer",
    });
    const text = JSON.stringify(vertex);
    expect(text).not.toMatch(/predict|aiplatform\.(user|admin)/);
  });

  it("every field that looks secret is secret: true (allow-list for identifiers)", () => {
    const looksSecret: string[] = [];
    const notMarked: string[] = [];
    for (const p of registry.providers) {
      for (const fd of p.fields) {
        if (!SECRET_LOOKING.test(fd.name) && !SECRET_LOOKING.test(fd.label)) continue;
        const id = `${p.id}.${fd.name}`;
        looksSecret.push(id);
        if (!fd.secret && !NOT_SECRET_ALLOW_LIST.has(id)) notMarked.push(id);
      }
    }
    expect(notMarked).toEqual([]);
    // The allow-list has no stale entries: each one still exists, looks secret, and is not secret.
    for (const id of NOT_SECRET_ALLOW_LIST) {
      expect(looksSecret, id).toContain(id);
      const [pid, fname] = id.split(".");
      expect(byId(pid!).fields.find((x) => x.name === fname)?.secret, id).toBe(false);
    }
  });

  it("the secret lint itself catches a secret-looking field that is not marked", () => {
    const fake = { id: "x", name: "refresh_token", label: "Refresh token", secret: false };
    expect(SECRET_LOOKING.test(fake.name) && !fake.secret && !NOT_SECRET_ALLOW_LIST.has(`x.${fake.name}`)).toBe(true);
    expect(SECRET_LOOKING.test("Client (application) ID")).toBe(false);
  });

  it("fields of type secret or json-file are marked secret", () => {
    for (const p of registry.providers) {
      for (const fd of p.fields) {
        if (fd.type === "secret" || fd.type === "json-file") expect(fd.secret, `${p.id}.${fd.name}`).toBe(true);
      }
    }
  });
});

describe("endpoints", () => {
  it("ENDPOINT_ENV_VARS is the list in docs/operations.md", () => {
    expect([...ENDPOINT_ENV_VARS].sort()).toEqual([...API_MD_ENDPOINT_VARS].sort());
  });

  it("every endpoint default is https (the Azure OpenAI override is unset by default) and uses a variable docs/operations.md lists", () => {
    const bad: string[] = [];
    for (const p of registry.providers) {
      for (const [key, e] of Object.entries(p.endpoints)) {
        // The shipped registry gives every endpoint its override variable (tests point them at fakes).
        if (!e.env || !API_MD_ENDPOINT_VARS.includes(e.env)) bad.push(`${p.id}.${key}: env ${e.env}`);
        // docs/operations.md: AZURE_OPENAI_ENDPOINT_OVERRIDE defaults to unset (the credential's own endpoint is used).
        if (e.default === "" && e.env === "AZURE_OPENAI_ENDPOINT_OVERRIDE") continue;
        let url: URL | null = null;
        try {
          url = new URL(e.default.replace(/\{(\w+)\}/g, "placeholder"));
        } catch {
          /* reported below */
        }
        if (!url || url.protocol !== "https:") bad.push(`${p.id}.${key}: ${e.default} is not https`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("the endpoint defaults are those docs/operations.md lists", () => {
    const defaults: Record<string, string> = {};
    for (const p of registry.providers) {
      for (const e of Object.values(p.endpoints)) {
        if (!e.env) continue; // reported by the test above
        // The same variable must mean the same default everywhere it is used.
        if (defaults[e.env] !== undefined) expect(e.default, `${p.id} ${e.env}`).toBe(defaults[e.env]);
        defaults[e.env] = e.default;
      }
    }
    expect(defaults).toMatchObject({
      OPENAI_API_BASE: "https://api.openai.com",
      ANTHROPIC_API_BASE: "https://api.anthropic.com",
      GEMINI_API_BASE: "https://generativelanguage.googleapis.com",
      GOOGLE_OAUTH_TOKEN_URL: "https://oauth2.googleapis.com/token",
      GOOGLE_CRM_API_BASE: "https://cloudresourcemanager.googleapis.com",
      GOOGLE_BIGQUERY_API_BASE: "https://bigquery.googleapis.com",
      GOOGLE_VERTEX_API_BASE: "https://{location}-aiplatform.googleapis.com",
      AWS_CE_ENDPOINT: "https://ce.us-east-1.amazonaws.com",
      AWS_BEDROCK_ENDPOINT: "https://bedrock.{region}.amazonaws.com",
      AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com",
      AZURE_MANAGEMENT_BASE: "https://management.azure.com",
      // {realm_domain}: the region's realm (oraclecloud.com in the commercial realm, as docs/operations.md lists).
      OCI_IDENTITY_ENDPOINT: "https://identity.{region}.oci.{realm_domain}",
      OCI_USAGE_ENDPOINT: "https://usageapi.{region}.oci.{realm_domain}",
    });
  });

  it("providers that fill an endpoint from user input have allowed_hosts, and placeholders name their own fields", () => {
    const filled: string[] = [];
    for (const p of registry.providers) {
      const names = new Set(p.fields.map((x) => x.name));
      for (const [key, e] of Object.entries(p.endpoints)) {
        const placeholders = [...e.default.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
        if (placeholders.length === 0) continue;
        filled.push(p.id);
        // realm_domain is derived by the OCI protocol from the region (and the tenancy's realm).
        for (const ph of placeholders) expect(names.has(ph) || (p.id === "oci" && ph === "realm_domain"), `${p.id}.${key} placeholder {${ph}}`).toBe(true);
        expect(p.allowed_hosts?.length ?? 0, `${p.id} has allowed_hosts`).toBeGreaterThan(0);
      }
    }
    expect([...new Set(filled)].sort()).toEqual(["aws_bedrock", "gcp_vertex", "oci"]);
    // azure_openai's endpoint is a credential field: its host is user input too.
    expect(byId("azure_openai").allowed_hosts?.length ?? 0).toBeGreaterThan(0);
  });

  const hostOf = (url: string) => new URL(url).hostname;
  const allowed = (id: string, host: string) => (byId(id).allowed_hosts ?? []).some((h) => new RegExp(h).test(host));
  const fill = (id: string, key: string, values: Record<string, string>) =>
    byId(id).endpoints[key]!.default.replace(/\{(\w+)\}/g, (_m, n: string) => values[n]!);

  it("hosts filled from valid input are allowed; foreign hosts are not", () => {
    for (const [region, realm_domain] of [
      ["us-ashburn-1", "oraclecloud.com"],
      ["eu-frankfurt-1", "oraclecloud.com"],
      ["ap-tokyo-1", "oraclecloud.com"],
      ["us-langley-1", "oraclegovcloud.com"],
      ["uk-gov-london-1", "oraclegovcloud.uk"],
      ["eu-madrid-2", "oraclecloud.eu"],
      ["me-dcc-muscat-1", "oraclecloud9.com"],
    ]) {
      expect(allowed("oci", hostOf(fill("oci", "identity_endpoint", { region: region!, realm_domain: realm_domain! }))), region).toBe(true);
      expect(allowed("oci", hostOf(fill("oci", "usage_endpoint", { region: region!, realm_domain: realm_domain! }))), region).toBe(true);
    }
    for (const region of ["us-east-1", "eu-central-1", "us-gov-west-1", "ap-southeast-2"]) {
      expect(allowed("aws_bedrock", hostOf(fill("aws_bedrock", "bedrock_endpoint", { region }))), region).toBe(true);
    }
    for (const location of ["us-central1", "europe-west4", "asia-northeast1"]) {
      expect(allowed("gcp_vertex", hostOf(fill("gcp_vertex", "vertex_api_base", { location }))), location).toBe(true);
    }
    expect(allowed("gcp_vertex", "aiplatform.googleapis.com")).toBe(true);
    expect(allowed("azure_openai", "my-resource.openai.azure.com")).toBe(true);
    expect(allowed("azure_openai", "my-resource.cognitiveservices.azure.com")).toBe(true);

    for (const [id, host] of [
      ["oci", "identity.us-ashburn-1.oci.oraclecloud.com.evil.example.com"],
      ["oci", "evil.example.com"],
      ["aws_bedrock", "bedrock.us-east-1.amazonaws.com.evil.example.com"],
      ["aws_bedrock", "sts.amazonaws.com"],
      ["gcp_vertex", "us-central1-aiplatform.googleapis.com.evil.example.com"],
      ["gcp_vertex", "oauth2.googleapis.com"],
      ["azure_openai", "my-resource.openai.azure.com.evil.example.com"],
      ["azure_openai", "169.254.169.254"],
    ] as const) {
      expect(allowed(id, host), `${id} ${host}`).toBe(false);
    }
  });
});

// ------------------------------------------------------------------ broken documents

describe("parseRegistry rejects broken documents with the provider id and the path", () => {
  it("the minimal document used below is itself valid", () => {
    const r: Registry = parseRegistry(docText(minimalDoc()), "test-providers.yml");
    expect(r.providers.map((p) => p.id)).toEqual(["acme_ai"]);
  });

  it("invalid YAML", () => {
    const err = expectRegistryError("version: 1\nproviders:\n  - id: acme_ai\n    name: [unclosed\n", "is not valid YAML");
    expect(err.message).toMatch(/line \d+/);
  });

  it("a YAML document that is not a registry at all", () => {
    expectRegistryError("- just\n- a list\n", "is invalid", "(root)");
  });

  it("a bad regex in a field pattern", () => {
    const d = minimalDoc();
    firstProvider(d).fields[0]!.pattern = "^ak-[a-z0-9{16,}$(";
    expectRegistryError(docText(d), "providers.acme_ai.fields.0.pattern", "is not a valid regular expression");
  });

  it("a bad regex in a metadata pattern, warn_pattern, reject, required_when, id_pattern and allowed_hosts", () => {
    const cases: Array<[(p: Record<string, unknown> & Doc["providers"][number]) => void, string]> = [
      [(p) => (p.metadata[0]!.pattern = "(["), "providers.acme_ai.metadata.0.pattern"],
      [(p) => Object.assign(p.fields[0]!, { warn_pattern: "*x" }), "providers.acme_ai.fields.0.warn_pattern"],
      [(p) => Object.assign(p.fields[0]!, { reject: [{ pattern: "a{2,1}", message: "no" }] }), "providers.acme_ai.fields.0.reject.0.pattern"],
      [
        (p) => Object.assign(p.fields[0]!, { required_when: { field: "api_key", pattern: "(?<", message: "needed" } }),
        "providers.acme_ai.fields.0.required_when.pattern",
      ],
      [(p) => Object.assign(p, { template: true, id_pattern: "^acme_[" }), "providers.acme_ai.id_pattern"],
      [(p) => Object.assign(p, { allowed_hosts: ["^ok\\.example\\.com$", "^(bad$"] }), "providers.acme_ai.allowed_hosts.1"],
    ];
    for (const [mutate, where] of cases) {
      const d = minimalDoc();
      mutate(firstProvider(d) as never);
      expectRegistryError(docText(d), where, "is not a valid regular expression");
    }
  });

  it("a secret-type field not marked secret", () => {
    const d = minimalDoc();
    firstProvider(d).fields[0]!.secret = false;
    expectRegistryError(docText(d), "providers.acme_ai.fields.0.secret", "must be marked secret: true");
  });

  it("a duplicate provider id", () => {
    const d = minimalDoc();
    d.providers.push(structuredClone(firstProvider(d)));
    expectRegistryError(docText(d), "providers.acme_ai.id", "duplicate provider id acme_ai");
  });

  it("a duplicate provider id added to the shipped registry", () => {
    const shipped = YAML.parse(fs.readFileSync(REGISTRY_PATH, "utf8"), { merge: true }) as { providers: Array<{ id: string }> };
    shipped.providers.push(structuredClone(shipped.providers.find((p) => p.id === "openai")!));
    expectRegistryError(docText(shipped), "providers.openai.id", "duplicate provider id openai");
  });

  it("an unknown connection_test kind", () => {
    const d = minimalDoc();
    firstProvider(d).connection_test.kind = "telepathy";
    expectRegistryError(docText(d), "providers.acme_ai.connection_test.kind");
  });

  it("a pattern without a message", () => {
    const d = minimalDoc();
    delete (firstProvider(d).fields[0] as { message?: string }).message;
    expectRegistryError(docText(d), "providers.acme_ai.fields.0.message", "a field with a pattern needs a message");

    const m = minimalDoc();
    delete (firstProvider(m).metadata[0] as { message?: string }).message;
    expectRegistryError(docText(m), "providers.acme_ai.metadata.0.message", "a metadata key with a pattern needs a message");
  });

  it("an endpoint variable docs/operations.md does not list, and an unknown key", () => {
    const d = minimalDoc();
    firstProvider(d).endpoints.api_base.env = "EVIL_BASE";
    expectRegistryError(docText(d), "providers.acme_ai.endpoints.api_base.env");

    const u = minimalDoc();
    Object.assign(firstProvider(u).fields[0]!, { secert: true });
    expectRegistryError(docText(u), "providers.acme_ai.fields.0");
  });

  it("a duplicate field, and required_when naming an unknown field", () => {
    const d = minimalDoc();
    firstProvider(d).fields.push(structuredClone(firstProvider(d).fields[0]!));
    expectRegistryError(docText(d), "providers.acme_ai.fields.1.name", "duplicate field api_key");

    const r = minimalDoc();
    Object.assign(firstProvider(r).fields[0]!, { required_when: { field: "nope", pattern: "^x", message: "needed" } });
    expectRegistryError(docText(r), "providers.acme_ai.fields.0.required_when.field", "unknown field nope");
  });

  it("a template without id_pattern", () => {
    const d = minimalDoc();
    Object.assign(firstProvider(d), { template: true });
    expectRegistryError(docText(d), "providers.acme_ai.id_pattern", "a template provider needs id_pattern");
  });

  it("a provider without an id is named by its index", () => {
    const d = minimalDoc();
    delete (firstProvider(d) as { id?: string }).id;
    expectRegistryError(docText(d), "providers.#0.id");
  });
});

// ------------------------------------------------------------------ resolveProvider

describe("resolveProvider", () => {
  it("resolves registry ids to themselves", () => {
    for (const id of Object.keys(API_MD_PROVIDERS).filter((x) => x !== "saas")) {
      const p = resolveProvider(id);
      expect(p?.id).toBe(id);
      expect(p?.registryId).toBe(id);
    }
  });

  it("saas_<vendor> resolves to the template with the concrete id", () => {
    const p = resolveProvider("saas_datadog");
    expect(p).not.toBeNull();
    expect(p!.id).toBe("saas_datadog");
    expect(p!.registryId).toBe("saas");
    expect(p!.category).toBe("saas");
    expect(p!.connection_test.kind).toBe("manual");
    expect(p!.name).toContain("datadog");
    expect(p!.fields.map((x) => x.name)).toEqual(["display_name", "api_key", "base_url", "notes"]);
    expect(resolveProvider("saas_new-relic")?.id).toBe("saas_new-relic");
    expect(resolveProvider(`saas_${"a".repeat(40)}`)?.id).toBe(`saas_${"a".repeat(40)}`);
  });

  it("does not mutate the registry entry it resolves from", () => {
    resolveProvider("saas_datadog");
    expect(byId("saas").id).toBe("saas");
    expect(byId("saas").name).toBe("SaaS (manual entry)");
  });

  for (const id of [
    "saas_",
    "saas_x",
    "SAAS_x",
    "SAAS_datadog",
    "saas",
    "saas_-datadog",
    "saas_Datadog",
    `saas_${"a".repeat(41)}`,
    "saas_datadog\n",
    "nope",
    "",
    "OpenAI",
    "openai ",
  ]) {
    it(`${JSON.stringify(id)} → null`, () => {
      expect(resolveProvider(id)).toBeNull();
    });
  }
});
