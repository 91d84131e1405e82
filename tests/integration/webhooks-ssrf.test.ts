import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { createOrg, startStack, type Stack } from "../support/stack";

/**
 * The server as deployed (WEBHOOK_ALLOW_PRIVATE unset): a tenant admin tries to point a webhook at
 * the server's own network. A second server is started for this file, since the suite's shared one
 * allows loopback receivers.
 */
let stack: Stack;
let key: string;
const ORG = "ssrf-org";

beforeAll(async () => {
  const port = Number(new URL(inject("baseUrl")).port) + 60;
  stack = await startStack({ port, cloudPortBase: port + 160, env: { WEBHOOK_ALLOW_PRIVATE: "0" } });
  key = createOrg(stack.dataDir, ORG);
});
afterAll(async () => {
  await stack?.stop();
});

async function create(url: string) {
  const r = await fetch(`${stack.baseUrl}/integrations/${ORG}/webhooks`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({ url, events: ["integration.status_changed"] }),
  });
  return { status: r.status, body: (await r.json()) as { error?: { code: string; fields?: Record<string, string> } } };
}

describe("webhook targets over REST, private targets not allowed", () => {
  it.each([
    ["http://hooks.example.com/", /https/],
    ["https://127.0.0.1/", /loopback/],
    ["https://localhost:8000/", /local/],
    ["https://10.0.0.8/", /private/],
    ["https://192.168.1.20/", /private/],
    ["https://169.254.169.254/latest/meta-data/iam/", /metadata/],
    ["https://[fd00:ec2::254]/", /metadata/],
    ["https://100.64.1.1/", /carrier-grade NAT/],
    ["https://[::ffff:127.0.0.1]/", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://metadata.google.internal/computeMetadata/v1/", /metadata/],
  ])("refuses %s with 400 naming the url field", async (url, why) => {
    const r = await create(url);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe("invalid_request");
    expect(r.body.error?.fields?.url).toMatch(why);
  });

  it("stores none of them", async () => {
    const r = await fetch(`${stack.baseUrl}/integrations/${ORG}/webhooks`, { headers: { "x-api-key": key } });
    expect(await r.json()).toEqual({ webhooks: [] });
  });

  it("records each refusal in the audit trail, by the key, with the URL's origin only", async () => {
    const r = await fetch(`${stack.baseUrl}/integrations/${ORG}/audit?action=webhook.create&limit=500`, { headers: { "x-api-key": key } });
    const text = await r.text();
    const events = (JSON.parse(text) as { events: Array<{ outcome: string; target: string | null; actor: { type: string } }> }).events;
    expect(events.map((e) => e.target).reverse()).toEqual([
      "(http://hooks.example.com)",
      "(https://127.0.0.1)",
      "(https://localhost:8000)",
      "(https://10.0.0.8)",
      "(https://192.168.1.20)",
      "(https://169.254.169.254)",
      "(https://[fd00:ec2::254])",
      "(https://100.64.1.1)",
      "(https://[::ffff:7f00:1])",
      "(https://[::1])",
      "(https://metadata.google.internal)",
    ]);
    for (const e of events) expect(e).toMatchObject({ outcome: "invalid_request", actor: { type: "api_key" } });
    expect(text).not.toMatch(/meta-data|computeMetadata/);
  });
});
