import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RESERVED_PROVIDER_IDS, RegistrySchema } from "../integrations/registry-schema";
import { getRegistry, resolveProvider } from "../integrations/registry";

/**
 * `/integrations/{org}/webhooks` is a static route beside the dynamic `/integrations/{org}/{provider}`:
 * Next matches static segments first (https://nextjs.org/docs/app/api-reference/file-conventions/dynamic-routes),
 * so a provider called "webhooks" would be unreachable. The registry refuses such ids.
 */
const APP = path.resolve(__dirname, "..", "..", "app", "integrations", "[org]");

describe("reserved route segments", () => {
  it("the webhook routes exist as static segments next to [provider]", () => {
    expect(fs.existsSync(path.join(APP, "webhooks", "route.ts"))).toBe(true);
    expect(fs.existsSync(path.join(APP, "webhooks", "[id]", "route.ts"))).toBe(true);
    expect(fs.existsSync(path.join(APP, "[provider]"))).toBe(true);
    expect(RESERVED_PROVIDER_IDS).toContain("webhooks");
  });

  it("no provider id, concrete or from a template, is 'webhooks' (or another reserved segment)", () => {
    for (const id of RESERVED_PROVIDER_IDS) expect(resolveProvider(id)).toBeNull();
    expect(getRegistry().providers.map((p) => p.id)).not.toContain("webhooks");
  });

  it("the registry schema rejects a provider, or a template pattern, that would take a reserved segment", () => {
    const base = getRegistry();
    const first = base.providers.find((p) => !p.template)!;
    const clash = RegistrySchema.safeParse({ ...base, providers: [...base.providers, { ...first, id: "webhooks" }] });
    expect(clash.success).toBe(false);
    expect(JSON.stringify(clash.error?.issues)).toContain('reserved route segment \\"webhooks\\"');
    const template = base.providers.find((p) => p.template)!;
    const greedy = RegistrySchema.safeParse({ ...base, providers: base.providers.map((p) => (p === template ? { ...p, id_pattern: "^[a-z_]+$" } : p)) });
    expect(greedy.success).toBe(false);
    expect(RegistrySchema.safeParse(base).success).toBe(true);
  });
});
