import crypto from "node:crypto";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { test, expect, createOrgInUi, rememberCanary, shot, signUp, snapshotDom, uniqueSlug } from "./fixtures";

test.describe.configure({ mode: "serial" });

test("onboarding: sign up, create an org, connect OpenAI, validate, label, API key, delete", async ({ page, request }) => {
  const me = await signUp(page, { name: "Grace Hopper" });
  await expect(page.getByRole("heading", { name: "Create your first organization" })).toBeVisible();
  const slug = uniqueSlug("acme");
  await createOrgInUi(page, "Acme Analytics", slug);

  // The overview: a summary line, and a picker of every provider by category; nothing connected yet.
  await expect(page.getByRole("heading", { name: "Integrations", level: 1 })).toBeVisible();
  await expect(page.getByTestId("overview-summary")).toHaveText("0 active · 0 need attention · 11 not connected");
  await expect(page.getByText("No provider is connected for Acme Analytics yet")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Connect a provider", level: 2 })).toBeVisible();
  for (const c of ["Cloud", "GenAI", "SaaS"]) await expect(page.getByRole("heading", { name: c, level: 3 })).toBeVisible();
  await expect(page.getByTestId("picker-genai").getByRole("link", { name: "Connect OpenAI" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Connected" })).toHaveCount(0);

  // AWS shows the org's external ID before anything is entered. This server has no AWS identity of
  // its own (as on a default start), so there is no trust policy to copy, only what the operator
  // must configure; the permissions policy is usable as it is.
  await page.goto(`/orgs/${slug}/integrations/aws_iam`);
  await expect(page.getByTestId("external-id")).toHaveText(/^cm-/);
  await expect(page.getByTestId("aws-operator-note")).toContainText("PLATFORM_AWS_PRINCIPAL_ARN");
  await expect(page.getByRole("tab", { name: "Trust policy" })).toHaveCount(0);
  await expect(page.getByRole("tab", { name: "CloudFormation" })).toHaveCount(0);
  expect(await page.content()).not.toContain("PLATFORM_PRINCIPAL_ARN&gt;");
  await page.getByRole("tab", { name: "Permissions policy" }).click();
  await expect(page.getByLabel("IAM permissions policy JSON")).toContainText("ce:GetCostAndUsage");
  await page.getByRole("tab", { name: "Steps" }).click();
  await shot(page, "connect-aws-setup-info");

  // Connect OpenAI with the fake's admin key.
  await page.goto(`/orgs/${slug}/integrations`);
  await page.getByRole("link", { name: "Connect OpenAI" }).click();
  await expect(page.getByRole("heading", { name: "Before you connect" })).toBeVisible();
  const keyInput = page.getByLabel("Admin API key");
  await expect(keyInput).toHaveAttribute("type", "password");
  await keyInput.fill(FAKE_OPENAI_ADMIN_KEY);
  await shot(page, "connect-openai");
  await page.getByRole("button", { name: "Test and connect" }).click();
  const result = page.getByTestId("setup-result");
  await expect(result).toHaveAttribute("data-ok", "true");
  await expect(result).toContainText("OpenAI is connected: active");
  for (const step of ["format", "connection_test", "encryption", "stored"]) {
    await expect(page.locator(`[data-step="${step}"]`)).toHaveAttribute("data-state", "done");
  }
  await expect(page.locator('[data-check="read_costs"]')).toHaveAttribute("data-outcome", "ok");
  const summary = page.getByTestId("integration-summary");
  await expect(summary.getByText("Active")).toBeVisible();
  const fingerprint = (await page.getByTestId("summary-fingerprint").textContent())!.trim();
  expect(fingerprint).toMatch(/^[0-9a-f]{8}$/);
  // The secret left the form as soon as the server answered.
  await expect(keyInput).toHaveValue("");
  expect(await snapshotDom(page, "after-connect")).not.toContain(FAKE_OPENAI_ADMIN_KEY);
  await shot(page, "setup-result");

  // Validate now: "Last validated" moves to the new test's time.
  const lastValidated = page.getByTestId("summary-last-validated");
  const before = (await lastValidated.getAttribute("data-at"))!;
  expect(before).not.toBe("");
  await page.waitForTimeout(20); // a later millisecond
  await page.getByRole("button", { name: "Validate now" }).click();
  await expect(page.getByTestId("validate-status")).toContainText("Validated: active.");
  await expect(lastValidated).not.toHaveAttribute("data-at", before);
  expect(Date.parse((await lastValidated.getAttribute("data-at"))!)).toBeGreaterThan(Date.parse(before));
  await expect(lastValidated).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);

  // Edit the label (metadata is validated with the provider's schema first).
  await page.getByLabel("Label").fill("prod org");
  await page.getByRole("button", { name: "Add a tag" }).click();
  await page.getByLabel("Tag 1 name").fill("team");
  await page.getByLabel("Tag 1 value").fill("finops");
  await page.getByLabel("Project IDs to include").fill("not-a-project");
  await page.getByRole("button", { name: "Save metadata" }).click();
  await expect(page.locator("#meta-project_ids-error")).toHaveText(/must be OpenAI project ids/);
  await page.getByLabel("Project IDs to include").fill("");
  await page.getByRole("button", { name: "Save metadata" }).click();
  await expect(page.getByText("Metadata saved.")).toBeVisible();

  // The overview shows it first, in the connected list: status, account, fingerprint, last validated, label.
  await page.getByRole("link", { name: "← All integrations" }).click();
  await expect(page.getByTestId("overview-summary")).toHaveText("1 active · 0 need attention · 10 not connected");
  const card = page.getByTestId("provider-card-openai");
  await expect(card.getByText("Active")).toBeVisible();
  await expect(card.getByTestId("fingerprint")).toHaveText(fingerprint);
  await expect(card.getByTestId("last-validated")).toHaveText(/ UTC$/);
  await expect(card.getByText("prod org")).toBeVisible();
  await expect(card).toHaveAttribute("data-attention", "false");
  await expect(page.getByTestId("picker-genai").getByRole("link", { name: "Connect OpenAI" })).toHaveCount(0);
  await page.getByRole("button", { name: "Validate all" }).click();
  await expect(page.getByTestId("validate-all").locator('[data-provider="openai"]')).toHaveAttribute("data-state", "ok");
  await shot(page, "overview");

  // On a phone (390 px wide) the overview fits the width and stays short.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await expect(card.getByTestId("fingerprint")).toBeVisible();
  const size = await page.evaluate(() => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight }));
  expect(size.width).toBeLessThanOrEqual(390);
  expect(size.height).toBeLessThan(2000);
  await shot(page, "overview-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  // A viewer API key from settings, read once from the page, works against the REST API.
  await page.getByRole("link", { name: "API keys", exact: true }).click();
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByLabel("Label").fill("e2e reader");
  await page.getByRole("button", { name: "Create key" }).click();
  const apiKey = await page.getByTestId("new-api-key-value").inputValue();
  expect(apiKey).toMatch(/^cmk_[0-9a-f]{12}_/);
  await expect(page.locator("tr", { hasText: "e2e reader" })).toContainText("Active");
  await expect(page.locator("tr", { hasText: "e2e reader" }).getByTestId("key-creator")).toHaveText(me.email); // who made it
  await shot(page, "api-keys");
  const listed = await request.get(`/integrations/${slug}`, { headers: { "x-api-key": apiKey } });
  expect(listed.status()).toBe(200);
  expect((await listed.json()).integrations).toEqual([
    expect.objectContaining({ provider: "openai", status: "active", fingerprint, metadata: { label: "prod org", tags: { team: "finops" } } }),
  ]);
  expect((await request.delete(`/integrations/${slug}/openai`, { headers: { "x-api-key": apiKey } })).status()).toBe(403);

  // Revoke it (with confirmation): the API refuses it from then on.
  await page.getByRole("button", { name: "Revoke key e2e reader" }).click();
  await expect(page.getByRole("dialog")).toContainText("will get 401");
  await page.getByRole("button", { name: "Revoke key", exact: true }).click();
  await expect(page.locator("tr", { hasText: "e2e reader" })).toContainText("Revoked");
  expect((await request.get(`/integrations/${slug}`, { headers: { "x-api-key": apiKey } })).status()).toBe(401);

  // A pipeline key from the same page fetches the credential through …/access, and nothing else.
  await page.getByLabel("Role", { exact: true }).selectOption("pipeline");
  await page.getByLabel("Label").fill("e2e pipeline");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.getByTestId("new-api-key")).toContainText("A pipeline key");
  const pipelineKey = await page.getByTestId("new-api-key-value").inputValue();
  await expect(page.locator("tr", { hasText: "e2e pipeline" })).toContainText("pipeline");
  const access = await request.post(`/integrations/${slug}/openai/access`, { headers: { "x-api-key": pipelineKey } });
  expect(access.status()).toBe(200);
  expect(await access.json()).toMatchObject({ org: slug, provider: "openai", fingerprint, kind: "api_key", expires_at: null });
  expect((await request.get(`/integrations/${slug}`, { headers: { "x-api-key": pipelineKey } })).status()).toBe(403);

  // Delete the integration: the confirmation names what stops working.
  await page.goto(`/orgs/${slug}/integrations/openai`);
  await page.getByRole("button", { name: "Delete integration" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("The cost pipelines will stop pulling OpenAI costs for Acme Analytics");
  await dialog.getByRole("button", { name: "Delete OpenAI" }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/integrations$`));
  await expect(page.getByTestId("overview-summary")).toHaveText("0 active · 0 need attention · 11 not connected");
  await expect(page.getByTestId("picker-genai").getByRole("link", { name: "Connect OpenAI" })).toBeVisible();
});

test("a rejected credential is reported step by step, stores nothing and never comes back to the page", async ({ page }) => {
  await signUp(page);
  const slug = uniqueSlug("canary");
  await createOrgInUi(page, "Canary Co", slug);
  await page.goto(`/orgs/${slug}/integrations/openai`);

  // Format check in the browser, with the server's own schema: nothing is sent.
  await page.getByLabel("Admin API key").fill("not-a-key");
  await page.getByRole("button", { name: "Test and connect" }).click();
  await expect(page.getByText("must be an OpenAI key that starts with sk-")).toBeVisible();
  await expect(page.locator('[data-step="format"]')).toHaveAttribute("data-state", "failed");

  // A well-formed key the provider does not know: the connection test fails, nothing is stored.
  const canary = `sk-admin-canary${crypto.randomBytes(24).toString("hex")}`;
  rememberCanary(canary);
  await page.getByLabel("Admin API key").fill(canary);
  await page.getByRole("button", { name: "Show" }).click();
  await page.getByRole("button", { name: "Test and connect" }).click();
  const result = page.getByTestId("setup-result");
  await expect(result).toHaveAttribute("data-ok", "false");
  await expect(result).toContainText("Not connected: nothing was stored");
  // Each message once: the failing check carries it; the summary line above does not repeat it.
  const checkMessage = (await page.locator('[data-check="authenticate"] p').textContent())!.trim();
  expect(checkMessage.length).toBeGreaterThan(0);
  expect((await result.textContent())!.split(checkMessage).length - 1).toBe(1);
  await expect(page.locator('[data-step="format"]')).toHaveAttribute("data-state", "done");
  await expect(page.locator('[data-step="connection_test"]')).toHaveAttribute("data-state", "failed");
  await expect(page.locator('[data-step="stored"]')).toHaveAttribute("data-state", "skipped");
  await expect(page.locator('[data-check="authenticate"]')).toHaveAttribute("data-outcome", "auth_failed");
  await expect(page.getByLabel("Admin API key")).toHaveValue("");
  expect(await snapshotDom(page, "canary-failed")).not.toContain(canary);
  await expect(page.getByTestId("integration-summary")).toHaveCount(0);
  await page.reload();
  expect(await snapshotDom(page, "canary-reloaded")).not.toContain(canary);
});

test("manual SaaS vendors are added by name and listed under SaaS; Azure JSON fills the form", async ({ page }) => {
  await signUp(page);
  const slug = uniqueSlug("saas");
  await createOrgInUi(page, "Vendor Co", slug);
  await page.getByRole("link", { name: "+ Add a SaaS vendor" }).click();
  // The vendor is asked once; no label says "(optional)" twice; nothing promises a provider test.
  const form = page.getByTestId("connect-form");
  await expect(form.getByLabel(/Vendor/)).toHaveCount(1);
  await expect(page.getByText("(optional) (optional)")).toHaveCount(0);
  const labels = await form.locator("label").allTextContents();
  expect(labels.filter((l) => l.includes("(optional)")).length).toBeGreaterThan(0);
  for (const l of labels) expect(l.split("(optional)").length - 1, l).toBeLessThanOrEqual(1);
  await expect(page.getByRole("button", { name: /Test/ })).toHaveCount(0);
  await expect(page.getByText(/provider accepts|connection test →/)).toHaveCount(0);
  await page.getByLabel("Vendor name").fill("Datadog Inc.");
  await expect(page.getByText("Integration id: saas_datadog-inc")).toBeVisible();
  await page.getByRole("button", { name: "Save vendor" }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/integrations/saas_datadog-inc$`));
  await expect(page.getByRole("heading", { name: "Datadog Inc.", level: 1 })).toBeVisible();
  // "Last validated" means a test with the provider: a manual entry has none, and no Validate button.
  await expect(page.getByTestId("summary-last-validated")).toHaveText("not tested (manual entry)");
  await expect(page.getByRole("button", { name: "Validate now" })).toHaveCount(0);
  await page.getByRole("link", { name: "← All integrations" }).click();
  const row = page.getByTestId("provider-card-saas_datadog-inc");
  await expect(row).toBeVisible();
  await expect(row.getByTestId("last-validated")).toHaveText("not tested (manual entry)");
  // Vendors are open-ended: adding one leaves the 11 registry providers not connected.
  await expect(page.getByTestId("overview-summary")).toHaveText("1 active · 0 need attention · 11 not connected");
  // Nothing to validate: "Validate all" only appears for tested integrations.
  await expect(page.getByRole("button", { name: "Validate all" })).toHaveCount(0);

  // `az ad sp create-for-rbac` output fills tenant, client id and secret; the paste box is emptied.
  await page.goto(`/orgs/${slug}/integrations/azure`);
  const sp = { appId: "11111111-2222-3333-4444-555555555555", displayName: "finops", password: "abc8Q~not-a-real-secret-just-a-test-value", tenant: "66666666-7777-8888-9999-000000000000" };
  await page.getByLabel(/Paste the output of/).fill(JSON.stringify(sp));
  // Which JSON keys fill which field comes from the registry's paste_keys, labelled as the form labels them.
  await expect(page.getByText("Filled Tenant ID, Client (application) ID, Client secret from the pasted JSON.")).toBeVisible();
  await expect(page.getByLabel("Client (application) ID")).toHaveValue(sp.appId);
  await expect(page.getByLabel("Tenant ID")).toHaveValue(sp.tenant);
  await expect(page.getByLabel(/Paste the output of/)).toHaveValue("");
  await page.getByRole("button", { name: "Test and connect" }).click();
  await expect(page.locator("#field-subscription_id-error")).toHaveText("is required");
  await expect(page.getByLabel("Client (application) ID")).toHaveValue(sp.appId); // a format failure keeps what was typed

  // A GCP key file chosen with the file picker is read in the browser into the (masked) field.
  await page.goto(`/orgs/${slug}/integrations/gcp`);
  const keyFile = {
    type: "service_account",
    project_id: "finops-demo-123",
    private_key_id: "0123456789abcdef0123456789abcdef01234567",
    private_key: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
    client_email: "finops-reader@finops-demo-123.iam.gserviceaccount.com",
  };
  await page.getByLabel("choose a file").setInputFiles({ name: "key.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(keyFile)) });
  await expect(page.getByText("Loaded key.json (service account finops-reader@finops-demo-123.iam.gserviceaccount.com, project finops-demo-123).")).toBeVisible();
  await expect(page.getByLabel("Service account key file")).toHaveValue(JSON.stringify(keyFile));
  await expect(page.getByLabel("Service account key file")).toHaveClass(/mask-secret/);
});
