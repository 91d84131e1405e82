import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { Webhook } from "standardwebhooks";
import { api, uniqueOrg } from "../support/api";
import { createKey, createOrg, runCliAsync } from "../support/stack";
import { startAwsFake, type AwsFake } from "../fakes/aws";
import { FAKE_AWS_PLATFORM_ENV, FAKE_AWS_ROLE_ARN } from "../fakes/aws-keys";
import * as K from "../fakes/keys";
import { waitFor } from "../support/wait";

/**
 * Webhooks over REST against the built server: a receiver inside this process (http on loopback:
 * the stack runs with WEBHOOK_ALLOW_PRIVATE=1) gets integration.created, .replaced,
 * .status_changed and .deleted, and checks every signature with the Standard Webhooks reference
 * library. No secret typed into a setup ever appears in a body.
 */
interface Hit {
  path: string;
  headers: Record<string, string>;
  body: string;
}

let srv: http.Server;
const hits: Hit[] = [];
let base: string;
let aws: AwsFake;

beforeAll(async () => {
  aws = await startAwsFake({ port: inject("ports").aws });
  srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hits.push({ path: req.url ?? "", headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = req.url?.includes("fail") ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => srv.close(r));
  await aws.close();
});

type Event = { type: string; timestamp: string; data: Record<string, unknown> };

describe("webhooks over REST", () => {
  it("an admin creates an endpoint (secret shown once), lists and deletes it; viewers and other orgs cannot", async () => {
    const org = uniqueOrg("wh-crud");
    const c = api(createOrg(inject("dataDir"), org));
    const viewer = api(createKey(inject("dataDir"), org, "viewer").api_key);

    const created = await c.post(`/integrations/${org}/webhooks`, { url: `${base}/crud`, events: ["integration.created", "integration.deleted"] });
    expect(created.status, created.text).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(["created_at", "events", "id", "secret", "url"]);
    expect(created.body).toMatchObject({ url: `${base}/crud`, events: ["integration.created", "integration.deleted"] });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const list = await c.get(`/integrations/${org}/webhooks`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ webhooks: [{ id: created.body.id, url: `${base}/crud`, events: ["integration.created", "integration.deleted"], created_at: created.body.created_at }] });
    expect(list.text).not.toContain(created.body.secret.slice(6, 30));

    for (const r of [
      await viewer.get(`/integrations/${org}/webhooks`),
      await viewer.post(`/integrations/${org}/webhooks`, { url: `${base}/v`, events: ["integration.created"] }),
      await viewer.del(`/integrations/${org}/webhooks/${created.body.id}`),
    ]) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
    const other = uniqueOrg("wh-other");
    const o = api(createOrg(inject("dataDir"), other));
    expect((await o.get(`/integrations/${org}/webhooks`)).body.error.code).toBe("org_not_found");
    const cross = await o.del(`/integrations/${other}/webhooks/${created.body.id}`);
    expect(cross.status).toBe(404);
    expect((await c.get(`/integrations/${org}/webhooks`)).body.webhooks).toHaveLength(1);
    expect((await api().get(`/integrations/${org}/webhooks`)).status).toBe(401);

    const bad = await c.post(`/integrations/${org}/webhooks`, { url: "ftp://example.com/", events: [] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", fields: { events: "must name at least one event" } });
    const bad2 = await c.post(`/integrations/${org}/webhooks`, { url: "ftp://example.com/", events: ["integration.created"] });
    expect(bad2.body.error).toMatchObject({ code: "invalid_request", fields: { url: "must be an https:// URL" } });

    const del = await c.del(`/integrations/${org}/webhooks/${created.body.id}`);
    expect(del.status).toBe(204);
    expect((await c.del(`/integrations/${org}/webhooks/${created.body.id}`)).status).toBe(404);
    expect((await c.get(`/integrations/${org}/webhooks`)).body).toEqual({ webhooks: [] });
  });

  it("'webhooks' is a static route, never a provider: the integration routes beside it still work", async () => {
    const org = uniqueOrg("wh-route");
    const c = api(createOrg(inject("dataDir"), org));
    expect((await c.get(`/integrations/${org}/webhooks`)).status).toBe(200);
    expect((await c.post(`/integrations/${org}/webhooks/setup`, { credential: {} })).status).toBe(405);
    const unknown = await c.del(`/integrations/${org}/webhookz`);
    expect(unknown.body.error.code).toBe("unknown_provider");
    const providers = (await api().get("/providers")).body.providers.map((p: { id: string }) => p.id);
    expect(providers).not.toContain("webhooks");
  });

  it("delivers created, replaced, status_changed and deleted, signed, with a delivery log and no secret in any body", async () => {
    const org = uniqueOrg("wh-events");
    const c = api(createOrg(inject("dataDir"), org));
    const hook = await c.post(`/integrations/${org}/webhooks`, {
      url: `${base}/events/${org}`,
      events: ["integration.created", "integration.replaced", "integration.deleted", "integration.status_changed"],
    });
    expect(hook.status).toBe(201);
    const canary = `canary-${org}-do-not-send`;
    const mine = () => hits.filter((h) => h.path === `/events/${org}`);

    const s1 = await c.post(`/integrations/${org}/saas_acme/setup`, { credential: { display_name: "Acme", api_key: canary } });
    expect(s1.status, s1.text).toBe(201);
    const s2 = await c.post(`/integrations/${org}/saas_acme/setup`, { credential: { display_name: "Acme", api_key: `${canary}-2` } });
    expect(s2.status).toBe(200);
    const oa = await c.post(`/integrations/${org}/openai/setup`, { credential: { api_key: K.FAKE_OPENAI_ADMIN_KEY } });
    expect(oa.status, oa.text).toBe(201);

    // aws_iam: the role trusts this org, then stops trusting it (validate → invalid), then again.
    const externalId = (await c.get(`/integrations/${org}/aws_iam/setup-info`)).body.aws.external_id;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    expect((await c.post(`/integrations/${org}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN } })).status).toBe(201);
    aws.trustRole(FAKE_AWS_ROLE_ARN, "cm-someone-else", { ce: true, bedrock: true });
    const broken = await c.post(`/integrations/${org}/aws_iam/validate`);
    expect(broken.body.status).toBe("invalid");
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    expect((await c.post(`/integrations/${org}/aws_iam/validate`)).body.status).toBe("active");
    expect((await c.del(`/integrations/${org}/saas_acme`)).status).toBe(204);

    await waitFor(() => mine().length >= 7, "7 deliveries", 30_000);
    const wh = new Webhook(hook.body.secret);
    const events = mine().map((h) => wh.verify(h.body, h.headers) as Event);
    expect(events.map((e) => `${e.type} ${e.data.provider}`).sort()).toEqual(
      [
        "integration.created saas_acme",
        "integration.replaced saas_acme",
        "integration.created openai",
        "integration.created aws_iam",
        "integration.status_changed aws_iam",
        "integration.status_changed aws_iam",
        "integration.deleted saas_acme",
      ].sort(),
    );
    const changed = events.filter((e) => e.type === "integration.status_changed");
    const toInvalid = changed.find((e) => e.data.status === "invalid")!;
    expect(toInvalid.data).toMatchObject({ org, provider: "aws_iam", previous_status: "active", outcome: "permission_denied", fingerprint: broken.body.fingerprint });
    expect(String(toInvalid.data.message)).toMatch(/external ID/i);
    expect(changed.find((e) => e.data.status === "active")!.data).toMatchObject({ previous_status: "invalid" });
    expect(events.find((e) => e.type === "integration.replaced")!.data).toMatchObject({ previous_fingerprint: s1.body.fingerprint, fingerprint: s2.body.fingerprint, version: 2 });
    expect(events.find((e) => e.type === "integration.deleted")!.data).toMatchObject({ provider: "saas_acme", fingerprint: s2.body.fingerprint });
    for (const h of mine()) {
      expect(h.headers["webhook-id"]).toMatch(/^msg_/);
      expect(h.body).not.toContain(canary);
      expect(h.body).not.toContain(K.FAKE_OPENAI_ADMIN_KEY);
      expect(h.body).not.toContain(hook.body.secret.slice(6));
    }
    const ids = mine().map((h) => h.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(ids.length);

    // The receiver has a delivery before the worker records its answer: wait for the records.
    const log = await waitFor(async () => {
      const r = await c.get(`/integrations/${org}/webhooks/${hook.body.id}/deliveries`);
      return (r.status !== 200 || r.body.deliveries.every((d: { status: string }) => d.status === "delivered")) && r;
    }, "7 deliveries recorded as delivered", 30_000);
    expect(log.status).toBe(200);
    expect(log.body.deliveries.length).toBe(7);
    for (const d of log.body.deliveries) expect(d).toMatchObject({ webhook_id: hook.body.id, status: "delivered", attempts: 1, last_response_code: 204, next_attempt_at: null });
  });

  it("a receiver that fails gets a retry scheduled with backoff, visible in the delivery log", async () => {
    const org = uniqueOrg("wh-fail");
    const c = api(createOrg(inject("dataDir"), org));
    const hook = await c.post(`/integrations/${org}/webhooks`, { url: `${base}/fail/${org}`, events: ["integration.created"] });
    await c.post(`/integrations/${org}/saas_acme/setup`, { credential: { display_name: "Acme" } });
    await waitFor(() => hits.some((h) => h.path === `/fail/${org}`), "the failed attempt", 30_000);
    const entry = await waitFor(async () => {
      const log = await c.get(`/integrations/${org}/webhooks/${hook.body.id}/deliveries`);
      return log.body.deliveries.find((x: { attempts: number }) => x.attempts === 1) as Record<string, unknown> | undefined;
    }, "the failed attempt recorded", 30_000);
    expect(entry).toMatchObject({ event: "integration.created", status: "pending", attempts: 1, last_response_code: 500, last_error: "the receiver answered HTTP 500" });
    const wait = Date.parse(String(entry.next_attempt_at)) - Date.parse(String(entry.last_attempt_at));
    expect(wait).toBeGreaterThanOrEqual(27_000);
    expect(wait).toBeLessThanOrEqual(33_000);
  });

  // The CLI writes to the same DATA_DIR as the server only on the embedded defaults.
  it.skipIf(inject("backends") === "gcp")("a status change found by the CLI's validate-all is queued by the CLI and delivered by the server", async () => {
    const org = uniqueOrg("wh-cli");
    const c = api(createOrg(inject("dataDir"), org));
    const hook = await c.post(`/integrations/${org}/webhooks`, { url: `${base}/cli/${org}`, events: ["integration.status_changed"] });
    const externalId = (await c.get(`/integrations/${org}/aws_iam/setup-info`)).body.aws.external_id;
    aws.trustRole(FAKE_AWS_ROLE_ARN, externalId, { ce: true, bedrock: true });
    expect((await c.post(`/integrations/${org}/aws_iam/setup`, { credential: { role_arn: FAKE_AWS_ROLE_ARN } })).status).toBe(201);
    aws.trustRole(FAKE_AWS_ROLE_ARN, "cm-not-this-org", { ce: true, bedrock: true });
    const local = `http://127.0.0.1:${inject("ports").aws}`;
    const r = await runCliAsync(inject("dataDir"), ["integrations", "validate-all", "--org", org, "--json"], {
      ...FAKE_AWS_PLATFORM_ENV,
      AWS_STS_ENDPOINT: local,
      AWS_CE_ENDPOINT: local,
      AWS_BEDROCK_ENDPOINT: local,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    expect(r.status, r.stderr).toBe(1); // a credential became invalid
    // The server finds the CLI's queued event on its next poll (every 5 s).
    const hit = await waitFor(() => hits.find((h) => h.path === `/cli/${org}`), "the CLI's status_changed", 30_000);
    const event = new Webhook(hook.body.secret).verify(hit.body, hit.headers) as Event;
    expect(event).toMatchObject({ type: "integration.status_changed", data: { org, provider: "aws_iam", previous_status: "active", status: "invalid", outcome: "permission_denied" } });
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await api().get("/openapi.json")).body;
    expect(doc.paths["/integrations/{org}/webhooks"]).toMatchObject({ get: expect.any(Object), post: expect.any(Object) });
    expect(doc.paths["/integrations/{org}/webhooks/{id}"]).toMatchObject({ delete: expect.any(Object) });
  });
});
