import fs from "node:fs";
import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { test, expect, createOrgInUi, shot, signUp, uniqueSlug } from "./fixtures";

test.describe.configure({ mode: "serial" });

/**
 * The Activity page (docs/security.md, "Audit trail"): what an owner did in the UI, what an
 * invitee did, and a wrong password tried against the owner's account all show up, newest first,
 * with filters and a CSV export; a viewer has no Activity link, no page and no export.
 */
test("owners see every change and failed sign-in on the Activity page, filter it and export it as CSV; viewers cannot", async ({ newUser }) => {
  const owner = await newUser("owner");
  await signUp(owner.page, { name: "Olivia Owner", email: owner.email });
  const slug = uniqueSlug("activity");
  await createOrgInUi(owner.page, "Activity Inc", slug);

  // Changes through the UI: connect and validate OpenAI.
  await owner.page.goto(`/orgs/${slug}/integrations/openai`);
  await owner.page.getByLabel("Admin API key").fill(FAKE_OPENAI_ADMIN_KEY);
  await owner.page.getByRole("button", { name: "Test and connect" }).click();
  await expect(owner.page.getByTestId("setup-result")).toHaveAttribute("data-ok", "true");
  await owner.page.getByRole("button", { name: "Validate now" }).click();
  await expect(owner.page.getByTestId("validate-status")).toContainText("Validated");

  // An invitation, accepted by a new viewer.
  const viewer = await newUser("viewer");
  await owner.page.getByRole("link", { name: "Members", exact: true }).click();
  await owner.page.getByLabel("Email").fill(viewer.email);
  await owner.page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await owner.page.getByRole("button", { name: "Create invitation" }).click();
  const link = await owner.page.getByTestId("invite-link-value").inputValue();
  await viewer.page.goto(link);
  await viewer.page.getByRole("link", { name: "Create an account" }).click();
  await signUp(viewer.page, { name: "Victor Viewer", email: viewer.email, prefilled: true });
  await viewer.page.getByRole("button", { name: "Accept and join Activity Inc" }).click();
  await expect(viewer.page).toHaveURL(new RegExp(`/orgs/${slug}/integrations$`));

  // Someone tries a wrong password on the owner's account.
  const intruder = await newUser("intruder");
  await intruder.page.goto("/sign-in");
  await intruder.page.getByLabel("Email").fill(owner.email);
  await intruder.page.getByLabel("Password", { exact: true }).fill("not the password at all");
  await intruder.page.getByRole("button", { name: "Sign in" }).click();
  await expect(intruder.page.getByText("Wrong email or password.")).toBeVisible();

  // The owner's Activity page, from the org navigation.
  await owner.page.getByRole("link", { name: "Activity", exact: true }).click();
  await expect(owner.page).toHaveURL(new RegExp(`/orgs/${slug}/activity$`));
  await expect(owner.page.getByRole("heading", { name: "Activity" })).toBeVisible();
  const rows = owner.page.getByTestId("activity-row");
  // The failed sign-in is written without holding up the answer: reload until it is there.
  await expect(async () => {
    await owner.page.reload();
    await expect(rows.first()).toHaveAttribute("data-action", "sign_in.failed");
  }).toPass({ timeout: 15_000 });
  const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-action")));
  expect(actions).toEqual(["sign_in.failed", "invitation.accept", "member.invite", "integration.validate", "integration.setup"]);
  const setupRow = rows.filter({ has: owner.page.locator("td", { hasText: "integration.setup" }) });
  await expect(setupRow).toContainText(owner.email);
  await expect(setupRow).toContainText("openai");
  await expect(setupRow).toContainText(/→ [0-9a-f]{8}/);
  await expect(rows.filter({ hasText: "invitation.accept" })).toContainText(viewer.email);
  await expect(rows.filter({ hasText: "sign_in.failed" })).toContainText(owner.email);
  await shot(owner.page, "activity");

  // Filters: by action, then by provider.
  await owner.page.getByLabel("Action").selectOption("integration.validate");
  await owner.page.getByRole("button", { name: "Filter" }).click();
  await expect(owner.page).toHaveURL(/action=integration.validate/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-action", "integration.validate");
  await owner.page.getByLabel("Action").selectOption("");
  await owner.page.getByLabel("Provider").fill("openai");
  await owner.page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(2);
  await owner.page.getByLabel("Provider").fill("anthropic");
  await owner.page.getByRole("button", { name: "Filter" }).click();
  await expect(owner.page.getByText("No events match these filters")).toBeVisible();
  await owner.page.getByRole("link", { name: "Clear filters" }).click();
  await expect(rows).toHaveCount(5);

  // CSV export of the same filter.
  const downloadP = owner.page.waitForEvent("download");
  await owner.page.getByTestId("export-csv").click();
  const download = await downloadP;
  expect(download.suggestedFilename()).toMatch(new RegExp(`^audit-${slug}-\\d{4}-\\d\\d-\\d\\d\\.csv$`));
  const csv = fs.readFileSync((await download.path())!, "utf8");
  const lines = csv.trimEnd().split("\r\n");
  expect(lines[0]).toBe("id,at,org,actor_type,actor_id,actor_email,action,provider,fingerprint_before,fingerprint_after,outcome,request_id,client_ip,target");
  expect(lines.slice(1).map((l) => l.split(",")[6])).toEqual(["sign_in.failed", "invitation.accept", "member.invite", "integration.validate", "integration.setup"]);
  expect(csv).not.toContain(FAKE_OPENAI_ADMIN_KEY);
  expect(csv).not.toContain("not the password at all");

  // The viewer: no Activity link, no page, no export.
  await expect(viewer.page.getByRole("link", { name: "Activity", exact: true })).toHaveCount(0);
  await viewer.page.goto(`/orgs/${slug}/activity`);
  await expect(viewer.page.getByText("Only owners and admins see the activity")).toBeVisible();
  await expect(viewer.page.getByTestId("activity-table")).toHaveCount(0);
  const refused = await viewer.page.request.get(`/orgs/${slug}/activity/export`);
  expect(refused.status()).toBe(403);
  expect(await refused.text()).not.toContain("integration.setup");
  // Someone outside the org: not found, as everywhere.
  const outsider = await intruder.page.request.get(`/orgs/${slug}/activity/export`);
  expect([401, 404]).toContain(outsider.status());

  // Role change and removal, from the Members page, are there too, with whom they concerned.
  await owner.page.getByRole("link", { name: "Members", exact: true }).click();
  await owner.page.getByLabel(`Role of ${viewer.email}`).selectOption("admin");
  await expect(owner.page.getByText(`${viewer.email} is now admin.`)).toBeVisible();
  await owner.page.getByRole("button", { name: `Remove ${viewer.email}` }).click();
  await owner.page.getByRole("button", { name: "Remove member" }).click();
  await expect(owner.page.getByText(`${viewer.email} was removed`)).toBeVisible();
  await owner.page.getByRole("link", { name: "Activity", exact: true }).click();
  await expect(rows.first()).toHaveAttribute("data-action", "member.remove");
  await expect(rows.first()).toContainText(`${viewer.email} (admin)`);
  await expect(rows.nth(1)).toHaveAttribute("data-action", "member.role_change");
  await expect(rows.nth(1)).toContainText(`${viewer.email} (viewer → admin)`);
});
