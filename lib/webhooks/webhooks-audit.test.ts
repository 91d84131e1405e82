import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCore, SYSTEM_ACTOR, type TestCore } from "@/tests/support/core-deps";
import { POST as createRoute } from "@/app/integrations/[org]/webhooks/route";
import { DELETE as deleteRoute } from "@/app/integrations/[org]/webhooks/[id]/route";
import { createOrganization } from "../auth/organizations";
import { listAuditEvents } from "../audit/list-audit-events";
import type { AuditEvent } from "../audit/events";
import { verifyAuditTrail } from "../audit/verify-audit-trail";
import { setDeps } from "../deps";
import { webhookAuditTarget, webhookUrlOrigin } from "./present";

/**
 * webhook.create and webhook.delete through the REST route handlers (API-key auth, the core, the
 * audit trail): who added or removed which endpoint, with the URL's origin only (a path or query
 * can carry a token, the signing secret never appears), refusals included (a URL the SSRF guard
 * refuses, a viewer, an unknown id); another org's key writes nothing anywhere.
 */
const ORG = "hooks";
const OTHER = "elsewhere";
// A public address literal (no DNS lookup in the test); the path and query stand for a token.
const URL_OK = "https://93.184.216.34:8443/hooks/cnry-path-7Qx?token=cnry-query-Z4k";
const ORIGIN_OK = "https://93.184.216.34:8443";

let core: TestCore;
let admin: { key: string; id: string };
let viewer: { key: string; id: string };
let otherAdmin: string;

beforeAll(async () => {
  core = await makeCore();
  const created = await createOrganization({ actor: SYSTEM_ACTOR, slug: ORG }, core.deps);
  admin = { key: created.apiKey, id: created.keyId };
  const v = await core.deps.auth.createApiKey(ORG, "viewer", "viewer", new Date(core.clock.t));
  viewer = { key: v.apiKey, id: v.record.id };
  otherAdmin = (await createOrganization({ actor: SYSTEM_ACTOR, slug: OTHER }, core.deps)).apiKey;
  setDeps(core.deps);
});

afterAll(async () => {
  setDeps(undefined);
  await core?.close();
});

function post(key: string, body: unknown, requestId = "req-webhook-create-1") {
  return createRoute(
    new Request(`http://localhost/integrations/${ORG}/webhooks`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify(body),
    }),
    { params: Promise.resolve({ org: ORG }) },
  );
}

function del(key: string, id: string) {
  return deleteRoute(new Request(`http://localhost/integrations/${ORG}/webhooks/${encodeURIComponent(id)}`, { method: "DELETE", headers: { "x-api-key": key } }), {
    params: Promise.resolve({ org: ORG, id }),
  });
}

/** The org's events after its creation (whose one event is the initial admin key). */
async function events(org = ORG): Promise<AuditEvent[]> {
  return (await listAuditEvents({ actor: SYSTEM_ACTOR, org, query: { limit: 500 } }, core.deps)).events.filter((e) => e.action.startsWith("webhook."));
}

describe("webhook.create and webhook.delete over REST", () => {
  it("records who added and removed which endpoint (id and origin only), refusals too, and the chain verifies", async () => {
    const created = await post(admin.key, { url: URL_OK, events: ["integration.deleted"] });
    expect(created.status).toBe(201);
    const hook = (await created.json()) as { id: string; secret: string };

    expect((await post(admin.key, { url: "https://169.254.169.254/latest/meta-data?token=cnry-ssrf", events: ["integration.deleted"] })).status).toBe(400);
    expect((await post(viewer.key, { url: URL_OK, events: ["integration.deleted"] })).status).toBe(403);
    expect((await post(admin.key, { url: 42, events: [] })).status).toBe(400);
    expect((await post(otherAdmin, { url: URL_OK, events: ["integration.deleted"] })).status).toBe(404);
    expect((await del(viewer.key, hook.id)).status).toBe(403);
    expect((await del(admin.key, "wh_0000000000000000")).status).toBe(404);
    expect((await del(admin.key, "../../etc/passwd")).status).toBe(404);
    expect((await del(otherAdmin, hook.id)).status).toBe(404);
    expect((await del(admin.key, hook.id)).status).toBe(204);

    const es = await events();
    expect(es.map((e) => [e.action, e.outcome, e.actor.id, e.target])).toEqual([
      ["webhook.delete", "ok", admin.id, `${hook.id} (${ORIGIN_OK})`],
      ["webhook.delete", "not_found", admin.id, "?"],
      ["webhook.delete", "not_found", admin.id, "wh_0000000000000000"],
      ["webhook.delete", "forbidden", viewer.id, hook.id],
      ["webhook.create", "invalid_request", admin.id, null],
      ["webhook.create", "forbidden", viewer.id, `(${ORIGIN_OK})`],
      ["webhook.create", "invalid_request", admin.id, "(https://169.254.169.254)"],
      ["webhook.create", "ok", admin.id, `${hook.id} (${ORIGIN_OK})`],
    ]);
    for (const e of es) expect(e).toMatchObject({ org: ORG, actor: { type: "api_key" }, provider: null, fingerprint_before: null, fingerprint_after: null });
    expect(es.at(-1)!.request_id).toBe("req-webhook-create-1");
    const text = JSON.stringify(es);
    for (const secret of ["cnry-path", "cnry-query", "cnry-ssrf", "meta-data", hook.secret, hook.secret.slice(6, 30)]) expect(text).not.toContain(secret);

    // Another org's key: nothing in this org's trail (above) and nothing in its own.
    expect(await events(OTHER)).toEqual([]);
    expect(await verifyAuditTrail({ actor: SYSTEM_ACTOR }, core.deps)).toMatchObject({ ok: true });
  });
});

describe("the webhook target of an event", () => {
  it("is the origin only: no path, query, fragment or user info; null for what is not a URL", () => {
    expect(webhookUrlOrigin("https://user:pa55@Hooks.Example.com:443/p/a?t=1#f")).toBe("https://hooks.example.com");
    expect(webhookUrlOrigin(" http://[::1]:8080/x ")).toBe("http://[::1]:8080");
    expect(webhookUrlOrigin("not a url")).toBeNull();
    expect(webhookUrlOrigin("javascript:alert(1)")).toBeNull();
    expect(webhookUrlOrigin({ url: "https://x" })).toBeNull();
    expect(webhookUrlOrigin(`https://${"a".repeat(400)}.example/`)).toHaveLength(301);
    expect(webhookAuditTarget("wh_0123456789abcdef", "https://h.example/p")).toBe("wh_0123456789abcdef (https://h.example)");
    expect(webhookAuditTarget(null, "https://h.example/p")).toBe("(https://h.example)");
    expect(webhookAuditTarget(null, undefined)).toBeNull();
  });
});
