import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { IntegrationsOverview } from "../../app/_components/integrations/integrations-overview";
import type { Integration } from "../integrations/schemas";
import type { ProviderCard } from "./provider-view";

const at = "2026-11-30T05:00:00.000Z";
const integration = (provider: string, name: string, patch: Partial<Integration> = {}): Integration => ({
  org: "acme",
  provider,
  name,
  category: provider.startsWith("saas_") ? "saas" : "genai",
  credential_type: "api_key",
  status: "active",
  fingerprint: "0123abcd",
  version: 1,
  key_kind: null,
  account: { id: "org-1", name: "Acme Org" },
  metadata: {},
  created_at: at,
  updated_at: at,
  last_validated_at: at,
  last_error: null,
  ...patch,
} as Integration);

const providers: ProviderCard[] = [
  { id: "openai", name: "OpenAI", category: "genai", credential_type_label: "API key", description: "" },
  { id: "anthropic", name: "Anthropic", category: "genai", credential_type_label: "API key", description: "" },
  { id: "gcp", name: "Google Cloud", category: "cloud", credential_type_label: "Service account", description: "" },
];
const categories = [
  { id: "cloud", name: "Cloud" },
  { id: "genai", name: "GenAI" },
  { id: "saas", name: "SaaS" },
];

function render(integrations: Integration[], canWrite = false) {
  return renderToStaticMarkup(createElement(IntegrationsOverview, { org: "acme", orgName: "Acme", integrations, providers, categories, canWrite }));
}

describe("integrations overview", () => {
  it("summarizes, lists what needs attention first with the action to take, and offers the rest in the picker", () => {
    const html = render([
      integration("openai", "OpenAI"),
      integration("anthropic", "Anthropic", {
        status: "invalid",
        last_error: { code: "permission_denied", message: "The key lacks the cost permission.", at },
      }),
    ]);
    const text = html.replace(/<[^>]+>/g, "");
    expect(text).toContain("1 active · 1 needs attention · 1 not connected");
    // Anthropic (needs attention) comes before OpenAI in the connected list.
    expect(html.indexOf('data-testid="provider-card-anthropic"')).toBeLessThan(html.indexOf('data-testid="provider-card-openai"'));
    expect(html).toMatch(/data-testid="provider-card-anthropic" data-attention="true"/);
    expect(text).toContain("Grant the missing permission, then validate again (ask an owner or admin)");
    // The error message is shown once.
    expect(text.split("The key lacks the cost permission.").length - 1).toBe(1);
    // The connected row: account, fingerprint, last validated.
    expect(text).toContain("Acme Org");
    expect(text).toContain("0123abcd");
    expect(text).toContain("2026-11-30 05:00 UTC");
    // Not connected: only Google Cloud, in the picker, under Cloud; a viewer gets no "Connect".
    expect(html).toContain('data-testid="picker-cloud"');
    expect(html).not.toContain('data-testid="picker-genai"');
    expect(html).toContain("Google Cloud: what it needs");
    expect(html).not.toContain("Connect Google Cloud");
    expect(html).not.toContain("+ Add a SaaS vendor");
  });

  it("with nothing connected: no Connected section, every provider in the picker", () => {
    const text = render([]).replace(/<[^>]+>/g, "");
    expect(text).toContain("0 active · 0 need attention · 3 not connected");
    expect(text).toContain("Connect a provider");
    expect(text).not.toContain("Connected");
  });
});
