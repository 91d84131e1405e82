import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { startBigQueryFake, type BigQueryFake } from "../../tests/fakes/bigquery";
import {
  BIGQUERY_SCHEMA,
  BIGQUERY_TABLE,
  BigQueryCredentialStore,
  type BigQueryCredentialStoreOptions,
} from "./bigquery";
import { createCredentialStore } from "./index";
import { StoreConflictError, StoreUnavailableError, type CredentialRow } from "./store";
import { describeCredentialStoreContract } from "./store-contract";

const PROJECT = "test-project";
const DATASET = "integrations_test";

function storeFor(fake: BigQueryFake, opts: Partial<BigQueryCredentialStoreOptions> = {}): BigQueryCredentialStore {
  return new BigQueryCredentialStore({
    projectId: PROJECT,
    dataset: DATASET,
    location: "US",
    apiEndpoint: fake.url,
    retryBaseMs: 1,
    requestTimeoutMs: 2_000,
    ...opts,
  });
}

describeCredentialStoreContract("bigquery (REST fake)", async () => {
  const fake = await startBigQueryFake();
  const store = storeFor(fake);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await fake.close();
    },
  };
});

function row(overrides: Partial<CredentialRow> = {}): CredentialRow {
  return {
    org: "org-a",
    provider: "aws",
    credentialId: "cred-1",
    ciphertext: randomBytes(48),
    keyRef: "local:k1",
    keyVersion: "k1",
    fingerprint: "a1b2c3d4",
    status: "active",
    keyKind: null,
    metadata: { label: "x" },
    account: null,
    version: 1,
    createdAt: "2026-01-02T03:04:05.000Z",
    updatedAt: "2026-01-02T03:04:05.000Z",
    lastValidatedAt: null,
    lastError: null,
    ...overrides,
  };
}

/** Requests that ran a query (jobs.query or jobs.insert). */
function queryRequests(fake: BigQueryFake) {
  return fake.requests.filter(
    (r) => r.method === "POST" && /\/projects\/[^/]+\/(queries|jobs)$/.test(r.pathname),
  );
}

function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe("BigQueryCredentialStore against the REST fake", () => {
  let fake: BigQueryFake;

  beforeEach(async () => {
    fake = await startBigQueryFake();
  });

  afterEach(async () => {
    await fake.close();
  });

  it("creates the dataset (location, 48 h time travel, no table expiry) and the clustered table when missing", async () => {
    const store = storeFor(fake, { location: "EU" });
    await store.ping();

    const dsInsert = fake.requests.filter((r) => r.method === "POST" && r.pathname.endsWith(`/projects/${PROJECT}/datasets`));
    expect(dsInsert).toHaveLength(1);
    const dsBody = dsInsert[0]!.body as Record<string, unknown>;
    expect(dsBody.datasetReference).toMatchObject({ datasetId: DATASET });
    expect(dsBody.location).toBe("EU");
    expect(dsBody.maxTimeTravelHours).toBe("48");
    expect(dsBody.defaultTableExpirationMs ?? null).toBeNull();

    const tInsert = fake.requests.filter(
      (r) => r.method === "POST" && r.pathname.endsWith(`/projects/${PROJECT}/datasets/${DATASET}/tables`),
    );
    expect(tInsert).toHaveLength(1);
    const tBody = tInsert[0]!.body as {
      tableReference: { tableId: string };
      schema: { fields: Array<{ name: string; type: string; mode: string }> };
      clustering: { fields: string[] };
      expirationTime?: unknown;
    };
    expect(tBody.tableReference.tableId).toBe("org_integration_credentials");
    expect(tBody.schema.fields).toStrictEqual([
      { name: "org", type: "STRING", mode: "REQUIRED" },
      { name: "provider", type: "STRING", mode: "REQUIRED" },
      { name: "credential_id", type: "STRING", mode: "REQUIRED" },
      { name: "ciphertext", type: "BYTES", mode: "REQUIRED" },
      { name: "key_ref", type: "STRING", mode: "NULLABLE" },
      { name: "key_version", type: "STRING", mode: "NULLABLE" },
      { name: "fingerprint", type: "STRING", mode: "NULLABLE" },
      { name: "status", type: "STRING", mode: "NULLABLE" },
      { name: "key_kind", type: "STRING", mode: "NULLABLE" },
      { name: "metadata", type: "JSON", mode: "NULLABLE" },
      { name: "account", type: "JSON", mode: "NULLABLE" },
      { name: "version", type: "INT64", mode: "REQUIRED" },
      { name: "created_at", type: "TIMESTAMP", mode: "NULLABLE" },
      { name: "updated_at", type: "TIMESTAMP", mode: "NULLABLE" },
      { name: "last_validated_at", type: "TIMESTAMP", mode: "NULLABLE" },
      { name: "last_error", type: "JSON", mode: "NULLABLE" },
    ]);
    expect(tBody.clustering).toStrictEqual({ fields: ["org", "provider"] });
    expect(tBody.expirationTime).toBeUndefined();
    expect(fake.datasets()).toMatchObject([{ projectId: PROJECT, datasetId: DATASET, location: "EU" }]);
    expect(fake.tables()).toMatchObject([{ tableId: BIGQUERY_TABLE, clustering: ["org", "provider"] }]);

    // A second store finds both and creates nothing; queries run in the dataset's location.
    fake.clearRequests();
    const again = storeFor(fake, { location: "EU" });
    await again.put(row(), null);
    expect(fake.requests.filter((r) => r.method === "POST" && /\/(datasets|tables)$/.test(r.pathname))).toHaveLength(0);
    expect(fake.queries().every((q) => q.location === "EU")).toBe(true);
  });

  it("requests go to the local endpoint without Google credentials", async () => {
    const store = storeFor(fake);
    await store.put(row(), null);
    await store.get("org-a", "aws");
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.pathname.startsWith("/bigquery/v2/projects/test-project/")).toBe(true);
    }
  });

  it("refuses a dataset that exists in another location, and a table with a different schema", async () => {
    await storeFor(fake, { location: "EU" }).ping();
    const err = await errorOf(storeFor(fake, { location: "US" }).get("org-a", "aws"));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe("The BigQuery credentials dataset exists in a different location than configured.");

    const other = await startBigQueryFake();
    try {
      // Someone created the table with metadata as STRING and no status column.
      const bq = storeFor(other, { dataset: "other_ds" });
      await fetch(`${other.url}/bigquery/v2/projects/${PROJECT}/datasets`, {
        method: "POST",
        body: JSON.stringify({ datasetReference: { datasetId: "other_ds" }, location: "US" }),
      });
      await fetch(`${other.url}/bigquery/v2/projects/${PROJECT}/datasets/other_ds/tables`, {
        method: "POST",
        body: JSON.stringify({
          tableReference: { tableId: BIGQUERY_TABLE },
          schema: { fields: BIGQUERY_SCHEMA.filter((f) => f.name !== "status").map((f) => ({ ...f, type: f.name === "metadata" ? "STRING" : f.type })) },
        }),
      });
      const e2 = await errorOf(bq.ping());
      expect(e2).toBeInstanceOf(StoreUnavailableError);
      expect((e2 as Error).message).toBe("The BigQuery credentials table does not have the expected schema.");
    } finally {
      await other.close();
    }
  });

  it("every query is NAMED-parameterized with explicit types, and no value appears in SQL text", async () => {
    const store = storeFor(fake);
    const org = `org-${randomBytes(6).toString("hex")}`;
    const provider = `prov-${randomBytes(6).toString("hex")}`;
    const fingerprint = `fp${randomBytes(4).toString("hex")}`;
    const label = `label-${randomBytes(6).toString("hex")}`;
    const credentialId = `cred-${randomBytes(6).toString("hex")}`;
    const keyRef = `keyref-${randomBytes(6).toString("hex")}`;
    const errorCode = `ERR_${randomBytes(4).toString("hex")}`;
    const ciphertext = randomBytes(40);

    await store.put(row({ org, provider, fingerprint, credentialId, keyRef, ciphertext, metadata: { label } }), null);
    await store.get(org, provider);
    await store.listByOrg(org);
    await store.listSummaries(org);
    await store.listPage({ after: { org, provider: "a" }, limit: 7 });
    await store.listPage({ limit: 3 });
    await store.update(org, provider, 1, {
      status: "invalid",
      lastError: { code: errorCode, message: "m", at: "2026-01-02T03:04:05.000Z" },
      keyKind: null,
      lastValidatedAt: null,
    });
    await store.put(row({ org, provider, fingerprint, credentialId, keyRef, version: 2, metadata: { label } }), 1);
    await expect(store.put(row({ org, provider, version: 2 }), 1)).rejects.toBeInstanceOf(StoreConflictError);
    await store.delete(org, provider, 2);
    await store.delete(org, provider);

    const queries = fake.queries();
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const statements = new Set(queries.map((q) => q.query.trim().split(/\s+/, 1)[0]));
    expect(statements).toStrictEqual(new Set(["MERGE", "SELECT", "UPDATE", "DELETE"]));
    const values = [org, provider, fingerprint, label, credentialId, keyRef, errorCode, ciphertext.toString("base64"), "2026-01-02"];
    for (const q of queries) {
      expect(q.parameterMode?.toUpperCase()).toBe("NAMED");
      expect(q.queryParameters.length).toBeGreaterThan(0);
      for (const p of q.queryParameters) {
        expect(typeof p.name).toBe("string");
        expect(p.parameterType?.type).toMatch(/^(STRING|INT64|BYTES|TIMESTAMP|JSON)$/);
      }
      for (const v of values) expect(q.query).not.toContain(v);
      expect(q.query).toContain("`test-project.integrations_test.org_integration_credentials`");
    }
    // NULLs are typed parameters too (the MERGE of a new row: expected_version, key_kind, …).
    const merge = queries.find((q) => q.query.startsWith("MERGE"))!;
    const nulls = merge.queryParameters.filter((p) => p.parameterValue?.value === null || p.parameterValue?.value === undefined);
    expect(nulls.map((p) => p.name).sort()).toStrictEqual(["account", "expected_version", "key_kind", "last_error", "last_validated_at"]);
    for (const p of nulls) expect(p.parameterType?.type).toBeTruthy();
    // The listing reads only the columns it returns: never the ciphertext.
    const summaries = queries.filter((q) => /^SELECT org, provider, fingerprint\b/.test(q.query) && !/credential_id/.test(q.query));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.query).not.toMatch(/ciphertext|key_ref|key_version/);
    // The write path is MERGE/UPDATE/DELETE only: no INSERT statement, no streaming.
    expect(queries.some((q) => /^\s*INSERT\b/i.test(q.query))).toBe(false);
  });

  it("never calls insertAll (streaming), and the fake does refuse it", async () => {
    const store = storeFor(fake);
    for (let i = 0; i < 3; i++) await store.put(row({ provider: `p${i}` }), null);
    await store.put(row({ provider: "p0", version: 2 }), 1);
    await store.update("org-a", "p1", 1, { status: "expired" });
    await store.delete("org-a", "p2");
    expect(fake.requests.some((r) => /insertAll/i.test(r.pathname))).toBe(false);

    // Positive control: the fake records and refuses insertAll when it is called.
    const res = await fetch(`${fake.url}/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/${BIGQUERY_TABLE}/insertAll`, {
      method: "POST",
      body: JSON.stringify({ rows: [{ json: { org: "x" } }] }),
    });
    expect(res.status).toBe(400);
    expect(fake.requests.filter((r) => /insertAll$/.test(r.pathname))).toHaveLength(1);
    expect(fake.rows()).toHaveLength(2);
  });

  it("stores typed columns: BYTES ciphertext, JSON metadata, INT64 version, TIMESTAMPs", async () => {
    const store = storeFor(fake);
    const r = row({
      ciphertext: Buffer.from([0, 1, 2, 255]),
      metadata: { b: 1, a: [true, null] },
      account: { id: "42" },
      lastValidatedAt: "2026-01-02T03:04:06.789Z",
    });
    await store.put(r, null);
    const [stored] = fake.rows();
    expect(stored).toMatchObject({
      org: "org-a",
      version: 1,
      created_at: "2026-01-02T03:04:05.000Z",
      last_validated_at: "2026-01-02T03:04:06.789Z",
      last_error: null,
      key_kind: null,
    });
    expect((stored!.ciphertext as Buffer).equals(r.ciphertext)).toBe(true);
    expect(JSON.parse(stored!.metadata as string)).toStrictEqual({ a: [true, null], b: 1 });
    expect(JSON.parse(stored!.account as string)).toStrictEqual({ id: "42" });
  });

  it("a concurrent-update error is retried with backoff and then succeeds", async () => {
    const store = storeFor(fake, { maxAttempts: 4 });
    await store.put(row(), null);
    fake.clearRequests();
    fake.inject("concurrentUpdate", 2, "dml");
    const v2 = row({ ciphertext: randomBytes(16), version: 2 });
    expect(await store.put(v2, 1)).toStrictEqual(v2);
    const merges = fake.queries().filter((q) => q.query.startsWith("MERGE"));
    expect(merges).toHaveLength(3); // 2 refused + 1 applied
    expect(fake.pendingFaults()).toBe(0);
    expect(await store.get("org-a", "aws")).toStrictEqual(v2);
  });

  it("DML quota and rate-limit errors are retried and then succeed", async () => {
    const store = storeFor(fake, { maxAttempts: 5 });
    await store.put(row(), null);
    fake.clearRequests();
    fake.inject("dmlQuota", 2, "dml");
    fake.inject("rateLimit", 1, "dml");
    await store.update("org-a", "aws", 1, { status: "expired" });
    expect(fake.queries().filter((q) => q.query.startsWith("UPDATE"))).toHaveLength(4);
    expect((await store.get("org-a", "aws"))!.status).toBe("expired");

    fake.clearRequests();
    fake.inject("dmlQuota", 1, "dml");
    expect(await store.delete("org-a", "aws")).toBe(true);
    expect(fake.queries().filter((q) => q.query.startsWith("DELETE"))).toHaveLength(2);
  });

  it("persistent concurrent-update / DML-quota errors → StoreUnavailableError after maxAttempts", async () => {
    const store = storeFor(fake, { maxAttempts: 3 });
    await store.put(row(), null);

    fake.clearRequests();
    fake.inject("concurrentUpdate", 10, "dml");
    const e1 = await errorOf(store.put(row({ version: 2 }), 1));
    expect(e1).toBeInstanceOf(StoreUnavailableError);
    expect((e1 as Error).message).toBe("The BigQuery credential store is unavailable.");
    expect(fake.queries().filter((q) => q.query.startsWith("MERGE"))).toHaveLength(3);
    fake.clearFaults();

    fake.clearRequests();
    fake.inject("dmlQuota", 10, "dml");
    const e2 = await errorOf(store.update("org-a", "aws", 1, { status: "invalid" }));
    expect(e2).toBeInstanceOf(StoreUnavailableError);
    expect(fake.queries().filter((q) => q.query.startsWith("UPDATE"))).toHaveLength(3);
    expect(String((e2 as Error & { cause?: Error }).cause?.message)).toBe("BigQuery update failed: HTTP 403 quotaExceeded");
    fake.clearFaults();

    // Nothing changed.
    const got = await store.get("org-a", "aws");
    expect(got!.version).toBe(1);
    expect(got!.status).toBe("active");
  });

  it("500 backendError and 503 are retried; persistent ones → StoreUnavailableError", async () => {
    const store = storeFor(fake, { maxAttempts: 3 });
    await store.put(row(), null);

    fake.clearRequests();
    fake.inject("backendError", 1, "select");
    fake.inject("unavailable", 1, "select");
    expect((await store.get("org-a", "aws"))!.org).toBe("org-a");
    expect(fake.queries()).toHaveLength(3);

    fake.clearRequests();
    fake.inject("unavailable", 3, "select");
    const e = await errorOf(store.listByOrg("org-a"));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect(fake.queries()).toHaveLength(3);

    fake.clearRequests();
    fake.inject("backendError", 3, "any");
    const e2 = await errorOf(store.ping());
    expect(e2).toBeInstanceOf(StoreUnavailableError);
    expect(fake.requests).toHaveLength(3);
  });

  it("init failures (datasets.get 503) are retried, and a failed init is retried on the next call", async () => {
    const store = storeFor(fake, { maxAttempts: 2 });
    fake.inject("unavailable", 2, "any");
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(fake.datasets()).toHaveLength(0);
    await store.ping();
    expect(fake.datasets()).toHaveLength(1);
    expect(fake.tables()).toHaveLength(1);
  });

  it("a write that committed but whose answer was lost is retried and recognised as ours", async () => {
    const store = storeFor(fake, { maxAttempts: 3 });
    const v1 = row();
    fake.inject("commitThenDrop", 1, "dml");
    expect(await store.put(v1, null)).toStrictEqual(v1);
    expect(fake.rows()).toHaveLength(1);

    fake.inject("commitThenDrop", 1, "dml");
    const v2 = row({ ciphertext: randomBytes(20), version: 2 });
    expect(await store.put(v2, 1)).toStrictEqual(v2);

    fake.inject("commitThenDrop", 1, "dml");
    const updated = await store.update("org-a", "aws", 2, { status: "expired", metadata: { z: 1, a: 2 } });
    expect(updated).toStrictEqual({ ...v2, status: "expired", metadata: { z: 1, a: 2 } });

    fake.inject("commitThenDrop", 1, "dml");
    expect(await store.delete("org-a", "aws", 2)).toBe(true);
    expect(fake.rows()).toHaveLength(0);

    // A real conflict after a lost answer is still a conflict.
    await store.put(v1, null);
    const other = row({ ciphertext: randomBytes(8), version: 2, fingerprint: "00000000" });
    await store.put(other, 1);
    fake.inject("drop", 1, "dml");
    await expect(store.put(row({ ciphertext: randomBytes(8), version: 2 }), 1)).rejects.toBeInstanceOf(
      StoreConflictError,
    );
    expect(await store.get("org-a", "aws")).toStrictEqual(other);
  });

  it("a query that is not complete at once is finished through getQueryResults (affected rows included)", async () => {
    const store = storeFor(fake);
    fake.inject("incomplete", 1, "dml");
    const v1 = row();
    expect(await store.put(v1, null)).toStrictEqual(v1);
    fake.inject("incomplete", 1, "select");
    expect(await store.get("org-a", "aws")).toStrictEqual(v1);
    fake.inject("incomplete", 1, "dml");
    await expect(store.put(row({ version: 3 }), 2)).rejects.toBeInstanceOf(StoreConflictError); // 0 rows via getQueryResults
    expect(fake.requests.filter((r) => r.method === "GET" && /\/queries\/[^/]+$/.test(r.pathname))).toHaveLength(3);
  });

  it("a hanging BigQuery → StoreUnavailableError after the request timeout and bounded retries", async () => {
    const store = storeFor(fake, { maxAttempts: 2, requestTimeoutMs: 200 });
    await store.ping();
    fake.inject("hang", 2, "select");
    const started = Date.now();
    const e = await errorOf(store.get("org-a", "aws"));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fake.queries()).toHaveLength(2);
  });

  it("BigQuery unreachable (fake closed) → StoreUnavailableError on every call, with no row data", async () => {
    const store = storeFor(fake, { maxAttempts: 2 });
    await store.put(row({ org: "secret-org-name" }), null);
    await fake.close();
    const calls: Array<() => Promise<unknown>> = [
      () => store.get("secret-org-name", "aws"),
      () => store.listByOrg("secret-org-name"),
      () => store.put(row({ org: "secret-org-name", provider: "gcp" }), null),
      () => store.update("secret-org-name", "aws", 1, { status: "invalid" }),
      () => store.delete("secret-org-name", "aws"),
      () => store.listPage({ limit: 5 }),
      () => store.ping(),
    ];
    for (const call of calls) {
      const err = await errorOf(call());
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toBe("The BigQuery credential store is unavailable.");
      const cause = (err as Error & { cause?: Error }).cause;
      expect(cause?.message).toMatch(/^BigQuery \w+(\.\w+)? failed: network /);
      expect(JSON.stringify({ m: (err as Error).message, c: cause?.message })).not.toContain("secret-org-name");
    }
    await expect(store.close()).resolves.toBeUndefined();
  });

  it("a store that never reached BigQuery (nothing listening) → StoreUnavailableError", async () => {
    const url = fake.url;
    await fake.close();
    const store = new BigQueryCredentialStore({
      projectId: PROJECT,
      dataset: DATASET,
      location: "US",
      apiEndpoint: url,
      retryBaseMs: 1,
      maxAttempts: 2,
    });
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.get("org-a", "aws")).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("a streaming-buffer error → StoreUnavailableError naming it, not retried", async () => {
    const store = storeFor(fake, { maxAttempts: 5 });
    await store.put(row(), null);
    fake.clearRequests();
    fake.inject("streamingBuffer", 1, "dml");
    const e = await errorOf(store.update("org-a", "aws", 1, { status: "invalid" }));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect((e as Error).message).toMatch(/streaming buffer/);
    expect((e as Error).message).toMatch(/insertAll/);
    expect(fake.queries()).toHaveLength(1);
    expect((await store.get("org-a", "aws"))!.status).toBe("active");
  });

  it("a version conflict (0 affected rows) → StoreConflictError, for put, update and delete", async () => {
    const store = storeFor(fake);
    await store.put(row(), null);
    fake.clearRequests();
    await expect(store.put(row({ version: 3 }), 2)).rejects.toBeInstanceOf(StoreConflictError);
    await expect(store.put(row(), null)).rejects.toBeInstanceOf(StoreConflictError);
    await expect(store.update("org-a", "aws", 7, { status: "invalid" })).rejects.toBeInstanceOf(StoreConflictError);
    await expect(store.delete("org-a", "aws", 7)).rejects.toBeInstanceOf(StoreConflictError);
    // Each was exactly one DML statement that changed nothing (no retries).
    const dml = fake.queries().filter((q) => !q.query.startsWith("SELECT"));
    expect(dml.map((q) => q.query.split(" ", 1)[0])).toStrictEqual(["MERGE", "MERGE", "UPDATE", "DELETE"]);
    expect(fake.rows()).toHaveLength(1);
  });

  it("rejects invalid input before sending anything", async () => {
    const store = storeFor(fake);
    await store.ping();
    fake.clearRequests();
    await expect(store.put({ ...row(), status: "bogus" } as unknown as CredentialRow, null)).rejects.toThrow(TypeError);
    await expect(store.put(row({ createdAt: "yesterday" }), null)).rejects.toThrow(RangeError);
    await expect(store.put(row({ version: 2 }), null)).rejects.toThrow(RangeError);
    const patch = { version: 7, org: "org-b" } as unknown as Parameters<BigQueryCredentialStore["update"]>[3];
    await expect(store.update("org-a", "aws", 1, patch)).rejects.toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.update("org-a", "aws", 1, { metadata: cyclic })).rejects.toThrow("metadata must be JSON-serialisable.");
    await expect(store.listPage({ limit: -1 })).rejects.toThrow(RangeError);
    expect(queryRequests(fake)).toHaveLength(0);
  });

  it("validates identifiers: project, dataset and location never reach SQL unchecked", () => {
    const base = { projectId: PROJECT, dataset: DATASET, location: "US", apiEndpoint: fake.url };
    expect(() => new BigQueryCredentialStore({ ...base, projectId: "p`; DROP TABLE x; --" })).toThrow(/projectId/);
    expect(() => new BigQueryCredentialStore({ ...base, projectId: "" })).toThrow(/projectId/);
    expect(() => new BigQueryCredentialStore({ ...base, dataset: "a.b" })).toThrow(/dataset/);
    expect(() => new BigQueryCredentialStore({ ...base, dataset: "x`y" })).toThrow(/dataset/);
    expect(() => new BigQueryCredentialStore({ ...base, location: "US; --" })).toThrow(/location/);
    expect(() => new BigQueryCredentialStore({ ...base, apiEndpoint: "127.0.0.1:9050/x" })).toThrow(/apiEndpoint/);
    expect(new BigQueryCredentialStore({ ...base, projectId: "example.com:my-project" }).backend).toBe("bigquery");
  });

  it("duplicate rows for one key (never written by this store) fail closed", async () => {
    const store = storeFor(fake);
    await store.put(row(), null);
    // Simulate an outside writer adding a second row for the same key.
    const res = await fetch(`${fake.url}/bigquery/v2/projects/${PROJECT}/queries`, {
      method: "POST",
      body: JSON.stringify({
        query: `INSERT INTO \`${PROJECT}.${DATASET}.${BIGQUERY_TABLE}\` (org, provider, credential_id, ciphertext, version) VALUES (@o, @p, @c, @b, @v)`,
        parameterMode: "NAMED",
        queryParameters: [
          { name: "o", parameterType: { type: "STRING" }, parameterValue: { value: "org-a" } },
          { name: "p", parameterType: { type: "STRING" }, parameterValue: { value: "aws" } },
          { name: "c", parameterType: { type: "STRING" }, parameterValue: { value: "dup" } },
          { name: "b", parameterType: { type: "BYTES" }, parameterValue: { value: "AAEC" } },
          { name: "v", parameterType: { type: "INT64" }, parameterValue: { value: "1" } },
        ],
        useLegacySql: false,
      }),
    });
    expect(res.status).toBe(200);
    const e = await errorOf(store.get("org-a", "aws"));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect((e as Error).message).toMatch(/more than one row/);
  });
});

describe("the BigQuery REST fake", () => {
  let fake: BigQueryFake;
  beforeEach(async () => {
    fake = await startBigQueryFake();
    await storeFor(fake).ping();
  });
  afterEach(async () => {
    await fake.close();
  });

  async function query(body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${fake.url}/bigquery/v2/projects/${PROJECT}/queries`, {
      method: "POST",
      body: JSON.stringify({ useLegacySql: false, ...body }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  it("rejects untyped parameters, value/column type mismatches and NULL in REQUIRED columns, like BigQuery", async () => {
    const T = `\`${PROJECT}.${DATASET}.${BIGQUERY_TABLE}\``;
    const untyped = await query({
      query: `SELECT org FROM ${T} WHERE org = @o`,
      parameterMode: "NAMED",
      queryParameters: [{ name: "o", parameterValue: { value: "x" } }],
    });
    expect(untyped.status).toBe(400);

    const mismatch = await query({
      query: `SELECT org FROM ${T} WHERE version = @v`,
      parameterMode: "NAMED",
      queryParameters: [{ name: "v", parameterType: { type: "STRING" }, parameterValue: { value: "1" } }],
    });
    expect(mismatch.status).toBe(400);
    expect(JSON.stringify(mismatch.json)).toMatch(/No matching signature/);

    const bufferJson = await query({
      query: `UPDATE ${T} SET ciphertext = @b WHERE org = @o`,
      parameterMode: "NAMED",
      queryParameters: [
        { name: "b", parameterType: { type: "BYTES" }, parameterValue: { value: { type: "Buffer", data: [1] } } },
        { name: "o", parameterType: { type: "STRING" }, parameterValue: { value: "x" } },
      ],
    });
    expect(bufferJson.status).toBe(400);

    await storeFor(fake).put(row(), null);
    const nullRequired = await query({
      query: `UPDATE ${T} SET credential_id = @c WHERE TRUE`,
      parameterMode: "NAMED",
      queryParameters: [{ name: "c", parameterType: { type: "STRING" }, parameterValue: {} }],
    });
    expect(nullRequired.status).toBe(400);
    expect(fake.rows()[0]!.credential_id).toBe("cred-1");

    const errorShape = (await query({ query: `SELECT nope FROM ${T}` })).json.error as Record<string, unknown>;
    expect(errorShape).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    expect((errorShape.errors as Array<{ reason: string }>)[0]!.reason).toBe("invalidQuery");
  });

  it("encodes results like BigQuery: INT64 strings, int64 or float TIMESTAMPs, base64 BYTES, JSON text, null", async () => {
    await storeFor(fake).put(row({ ciphertext: Buffer.from([1, 2, 3]), metadata: { b: 2, a: 1 }, lastValidatedAt: "2026-01-02T03:04:05.250Z" }), null);
    const T = `\`${PROJECT}.${DATASET}.${BIGQUERY_TABLE}\``;
    const sql = `SELECT version, created_at, last_validated_at, ciphertext, metadata, account FROM ${T}`;
    const asInt = await query({ query: sql, formatOptions: { useInt64Timestamp: true } });
    expect(asInt.json).toMatchObject({ kind: "bigquery#queryResponse", jobComplete: true, totalRows: "1" });
    expect((asInt.json.rows as Array<{ f: Array<{ v: unknown }> }>)[0]!.f.map((c) => c.v)).toStrictEqual([
      "1",
      "1767323045000000",
      "1767323045250000",
      "AQID",
      '{"a":1,"b":2}',
      null,
    ]);
    const asFloat = await query({ query: sql });
    const f = (asFloat.json.rows as Array<{ f: Array<{ v: unknown }> }>)[0]!.f.map((c) => c.v);
    expect(f[1]).toBe("1767323045.0");
    expect(f[2]).toBe("1767323045.25");
    expect((asFloat.json.schema as { fields: Array<{ type: string }> }).fields.map((x) => x.type)).toStrictEqual([
      "INTEGER",
      "TIMESTAMP",
      "TIMESTAMP",
      "BYTES",
      "JSON",
      "JSON",
    ]);
  });
});

describe("createCredentialStore (bigquery)", () => {
  it("builds a BigQueryCredentialStore from the bigquery settings", async () => {
    const fake = await startBigQueryFake();
    try {
      const store = createCredentialStore({
        backend: "bigquery",
        dataDir: "/nonexistent",
        bigquery: { projectId: PROJECT, dataset: DATASET, location: "US", apiEndpoint: fake.url },
      });
      expect(store).toBeInstanceOf(BigQueryCredentialStore);
      expect(store.backend).toBe("bigquery");
      await store.ping();
      expect(fake.tables()).toMatchObject([{ datasetId: DATASET, tableId: BIGQUERY_TABLE }]);
      await store.close();
    } finally {
      await fake.close();
    }
  });

  it("defaults the dataset to integrations and the location to US", async () => {
    const fake = await startBigQueryFake();
    try {
      const store = createCredentialStore({
        backend: "bigquery",
        dataDir: "/nonexistent",
        bigquery: { projectId: PROJECT, apiEndpoint: fake.url },
      });
      await store.ping();
      expect(fake.datasets()).toMatchObject([{ datasetId: "integrations", location: "US" }]);
    } finally {
      await fake.close();
    }
  });

  it("throws a clear error when the project is missing", () => {
    expect(() => createCredentialStore({ backend: "bigquery", dataDir: "/nonexistent" })).toThrow(
      "CREDENTIAL_STORE=bigquery needs BIGQUERY_PROJECT",
    );
    expect(() =>
      createCredentialStore({ backend: "bigquery", dataDir: "/nonexistent", bigquery: { projectId: "" } }),
    ).toThrow("CREDENTIAL_STORE=bigquery needs BIGQUERY_PROJECT");
  });
});
