import { test as base, expect } from "@playwright/test";
import { createKey, createOrg } from "../support/stack";

/** Seeding fixtures: a fresh org with its admin key (made with the CLI), and a viewer key. */
export const test = base.extend<{ org: { slug: string; adminKey: string; viewerKey: () => string } }>({
  org: async ({}, use, testInfo) => {
    const dataDir = process.env.E2E_DATA_DIR!;
    const slug = `e2e-${testInfo.workerIndex}-${Date.now().toString(36)}`;
    const adminKey = createOrg(dataDir, slug);
    await use({ slug, adminKey, viewerKey: () => createKey(dataDir, slug, "viewer").api_key });
  },
});

export { expect };
