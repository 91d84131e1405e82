import { test, expect, shot } from "./fixtures";

test("signed out, the home page pitches the product and offers sign in and sign up", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Credential manager", level: 1 })).toBeVisible();
  await expect(page.getByRole("link", { name: "Sign in" }).first()).toBeVisible();
  await expect(page.getByRole("link", { name: "Create an account" }).first()).toBeVisible();
  for (const name of ["Google Cloud", "OpenAI", "Anthropic", "Google Gemini API"]) {
    await expect(page.getByText(name, { exact: true })).toBeVisible();
  }
  await shot(page, "home");
});

test("every page names its favicon, and it is served (no 404 in the log)", async ({ page, request }) => {
  await page.goto("/");
  const href = await page.locator('link[rel="icon"]').first().getAttribute("href");
  expect(href).toMatch(/^\/icon\.svg/);
  const icon = await request.get(href!);
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
  await page.goto("/sign-in");
  await expect(page.locator('link[rel="icon"]').first()).toHaveAttribute("href", href!);
});

test("signed-out visitors of an org page are sent to sign in and come back after", async ({ page }) => {
  await page.goto("/orgs/acme/integrations");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Forgs%2Facme%2Fintegrations/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a wrong password gets one message that does not say whether the account exists", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Wrong email or password.")).toBeVisible();
});
