import { test, expect } from "./fixtures";

test("the home page tells a newcomer how to start and lists the providers", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Credential manager" })).toBeVisible();
  await expect(page.getByText("npm run cli -- orgs create acme --json")).toBeVisible();
  for (const name of ["Google Cloud", "OpenAI", "Anthropic", "Google Gemini API"]) {
    await expect(page.getByText(name, { exact: true })).toBeVisible();
  }
  await page.screenshot({ path: "test-results/screenshots/home.png", fullPage: true });
});
