import { describe, expect, it } from "vitest";
import { listProviders } from "../integrations/registry";
import { pasteJsonOf, toClientProvider } from "./provider-view";

describe("UI hints come from the registry", () => {
  it("the Azure paste box maps the keys az ad sp create-for-rbac prints (and the --sdk-auth shape) to the fields the registry names", () => {
    const azure = listProviders().find((p) => p.id === "azure")!;
    const map = pasteJsonOf(azure)!;
    const fieldOf = (key: string) => map.find((m) => m.key === key)?.field;
    expect(fieldOf("appId")).toBe("client_id");
    expect(fieldOf("tenant")).toBe("tenant_id");
    expect(fieldOf("password")).toBe("client_secret");
    expect(fieldOf("clientSecret")).toBe("client_secret");
    expect(fieldOf("subscriptionId")).toBe("subscription_id");
    expect(toClientProvider(azure).paste_json).toEqual(map);
  });

  it("a provider that declares no paste_keys gets no paste box, whatever its field names", () => {
    const openai = listProviders().find((p) => p.id === "openai")!;
    expect(pasteJsonOf(openai)).toBeNull();
    // Field names alone do not make a paste box: a made-up provider with tenant_id/client_secret fields but no hints.
    expect(pasteJsonOf({ fields: [{ name: "tenant_id", label: "T", type: "text", required: true, secret: false }, { name: "client_secret", label: "S", type: "secret", required: true, secret: true }] })).toBeNull();
  });

  it("only registry data reaches the browser: no endpoints, no rate limits", () => {
    for (const p of listProviders()) {
      const view = toClientProvider(p) as Record<string, unknown>;
      expect(view.endpoints).toBeUndefined();
      expect(view.allowed_hosts).toBeUndefined();
    }
  });
});
