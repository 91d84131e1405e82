import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { test, expect, createOrgInUi, shot, signUp, uniqueSlug } from "./fixtures";

/**
 * The Webhooks settings page: an owner adds an endpoint (the secret is shown once), connecting a
 * provider delivers a signed integration.created to a receiver in this process (the stack allows
 * loopback targets: WEBHOOK_ALLOW_PRIVATE=1), the delivery log shows it, and the endpoint is removed.
 */
test("an owner adds a webhook, sees the secret once, gets a signed event with a delivery log, and removes it", async ({ page }) => {
  const got: Array<{ headers: Record<string, string>; body: string }> = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/cm-hook`;
  try {
    await signUp(page, { name: "Wendy Webhook" });
    const slug = uniqueSlug("hooks");
    await createOrgInUi(page, "Hooks Inc", slug);
    await page.getByRole("link", { name: "Webhooks", exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/settings/webhooks$`));
    await expect(page.getByText("No endpoints yet")).toBeVisible();

    // A bad URL is refused with the field named; nothing is added.
    await page.getByLabel("Endpoint URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await expect(page.getByText("must be an https:// URL").first()).toBeVisible();
    await expect(page.getByTestId("webhook-row")).toHaveCount(0);

    await page.getByLabel("Endpoint URL").fill(hookUrl);
    await page.getByRole("checkbox", { name: /integration\.deleted/ }).uncheck();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await expect(page.getByTestId("new-webhook-secret")).toContainText("it will not be shown again");
    const secret = await page.getByTestId("new-webhook-secret-value").inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const row = page.getByTestId("webhook-row");
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(hookUrl);
    await expect(row).toContainText("integration.status_changed");
    await expect(row).not.toContainText("integration.deleted");
    await shot(page, "webhooks");

    // Shown once: after a reload the page no longer has it.
    await page.reload();
    await expect(page.getByTestId("webhook-row")).toHaveCount(1);
    expect(await page.content()).not.toContain(secret.slice(6));

    // Connecting a provider fires integration.created, signed with that secret.
    await page.goto(`/orgs/${slug}/integrations/openai`);
    await page.getByLabel("Admin API key").fill(FAKE_OPENAI_ADMIN_KEY);
    await page.getByRole("button", { name: "Test and connect" }).click();
    await expect(page.getByTestId("setup-result")).toHaveAttribute("data-ok", "true");
    await expect.poll(() => got.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    const event = new Webhook(secret).verify(got[0]!.body, got[0]!.headers) as { type: string; data: { org: string; provider: string; fingerprint: string } };
    expect(event).toMatchObject({ type: "integration.created", data: { org: slug, provider: "openai", fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/) } });
    expect(got[0]!.body).not.toContain(FAKE_OPENAI_ADMIN_KEY);

    // The delivery log shows it delivered, with the receiver's answer.
    await page.getByRole("link", { name: "Webhooks", exact: true }).click();
    await page.getByRole("button", { name: "Deliveries" }).click();
    const log = page.getByTestId("delivery-log");
    await expect(log.locator("tr[data-status='delivered']")).toHaveCount(1, { timeout: 15_000 });
    await expect(log).toContainText("integration.created");
    await expect(log).toContainText("202");
    await shot(page, "webhook-deliveries");

    await page.getByRole("button", { name: `Remove endpoint ${hookUrl}` }).click();
    await page.getByRole("button", { name: "Remove endpoint", exact: true }).click();
    await expect(page.getByTestId("webhook-row")).toHaveCount(0);
    await expect(page.getByText("No endpoints yet")).toBeVisible();
  } finally {
    await new Promise((r) => srv.close(r));
  }
});
