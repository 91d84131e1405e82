import { FAKE_OPENAI_ADMIN_KEY } from "../fakes/keys";
import { test, expect, captureAction, createOrgInUi, replayAction, shot, signUp, uniqueSlug } from "./fixtures";

test.describe.configure({ mode: "serial" });

test("a viewer invited by link sees the integrations, has no buttons to change them, and the server refuses anyway", async ({ newUser }) => {
  const owner = await newUser("owner");
  await signUp(owner.page, { name: "Olivia Owner", email: owner.email });
  const slug = uniqueSlug("roles");
  await createOrgInUi(owner.page, "Roles Inc", slug);

  // The owner connects OpenAI; we keep the setup and validate server-action requests to replay later.
  await owner.page.goto(`/orgs/${slug}/integrations/openai`);
  await owner.page.getByLabel("Admin API key").fill(FAKE_OPENAI_ADMIN_KEY);
  const setupAction = await captureAction(owner.page, () => owner.page.getByRole("button", { name: "Test and connect" }).click());
  await expect(owner.page.getByTestId("setup-result")).toHaveAttribute("data-ok", "true");
  const validateAction = await captureAction(owner.page, () => owner.page.getByRole("button", { name: "Validate now" }).click());
  await expect(owner.page.getByTestId("validate-status")).toContainText("Validated");
  expect(setupAction.body).toContain(FAKE_OPENAI_ADMIN_KEY); // what we replay is the real request

  // Invite a viewer by link.
  const viewer = await newUser("viewer");
  await owner.page.getByRole("link", { name: "Members", exact: true }).click();
  await owner.page.getByLabel("Email").fill(viewer.email);
  await owner.page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await owner.page.getByRole("button", { name: "Create invitation" }).click();
  const link = await owner.page.getByTestId("invite-link-value").inputValue();
  expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/); // <id>.<mac>: the id alone opens nothing
  await expect(owner.page.locator("li", { hasText: viewer.email })).toContainText("viewer");
  await shot(owner.page, "members");

  // The invitee opens the link, signs up with the invited address (prefilled) and accepts.
  await viewer.page.goto(link);
  await expect(viewer.page.getByRole("heading", { name: "Join Roles Inc" })).toBeVisible();
  await viewer.page.getByRole("link", { name: "Create an account" }).click();
  await expect(viewer.page.getByLabel("Email")).toHaveValue(viewer.email);
  await signUp(viewer.page, { name: "Victor Viewer", email: viewer.email, prefilled: true });
  await expect(viewer.page).toHaveURL(/\/invite\//);
  await viewer.page.getByRole("button", { name: "Accept and join Roles Inc" }).click();
  await expect(viewer.page).toHaveURL(new RegExp(`/orgs/${slug}/integrations$`));

  // Sees the integration, but no way to change anything.
  const card = viewer.page.getByTestId("provider-card-openai");
  await expect(card.getByText("Active")).toBeVisible();
  await expect(viewer.page.getByRole("link", { name: /^Connect / })).toHaveCount(0);
  await expect(viewer.page.getByRole("button", { name: "Validate all" })).toHaveCount(0);
  await expect(viewer.page.getByRole("link", { name: "+ Add a SaaS vendor" })).toHaveCount(0);
  await card.getByRole("link", { name: "View OpenAI" }).click();
  await expect(viewer.page.getByText("You have the viewer role")).toBeVisible();
  await expect(viewer.page.getByRole("button", { name: "Delete integration" })).toHaveCount(0);
  await expect(viewer.page.getByRole("button", { name: "Validate now" })).toHaveCount(0);
  await expect(viewer.page.getByRole("button", { name: /Test and/ })).toHaveCount(0);
  await expect(viewer.page.getByTestId("connect-form")).toHaveCount(0);
  await shot(viewer.page, "viewer-provider");
  await viewer.page.getByRole("link", { name: "API keys", exact: true }).click();
  await expect(viewer.page.getByText("Only owners and admins manage API keys")).toBeVisible();
  await viewer.page.getByRole("link", { name: "Members", exact: true }).click();
  await expect(viewer.page.getByRole("button", { name: "Create invitation" })).toHaveCount(0);

  // Calling the server actions directly (the owner's exact requests, with the viewer's session): refused.
  const setup = await replayAction(viewer.page, setupAction);
  expect(setup.status).toBe(200);
  expect(setup.text).toContain('"code":"forbidden"');
  expect(setup.text).toContain("Your role (viewer) can view this organization");
  expect(setup.text).not.toContain('"ok":true');
  const validate = await replayAction(viewer.page, validateAction);
  expect(validate.text).toContain('"code":"forbidden"');

  // Nothing changed: still version 1 for the owner.
  await owner.page.goto(`/orgs/${slug}/integrations/openai`);
  await expect(owner.page.getByTestId("integration-summary")).toContainText("1 ·");
});

test("a user of another organization gets 404 for the first organization's pages and actions", async ({ newUser }) => {
  const owner = await newUser("owner-a");
  await signUp(owner.page, { email: owner.email });
  const slugA = uniqueSlug("orga");
  await createOrgInUi(owner.page, "Org A", slugA);
  await owner.page.goto(`/orgs/${slugA}/integrations/openai`);
  await owner.page.getByLabel("Admin API key").fill(FAKE_OPENAI_ADMIN_KEY);
  const setupAction = await captureAction(owner.page, () => owner.page.getByRole("button", { name: "Test and connect" }).click());
  await expect(owner.page.getByTestId("setup-result")).toHaveAttribute("data-ok", "true");

  const outsider = await newUser("outsider");
  await signUp(outsider.page, { email: outsider.email });
  await createOrgInUi(outsider.page, "Org B", uniqueSlug("orgb"));

  for (const p of ["integrations", "integrations/openai", "integrations/aws_iam", "settings/members", "settings/api-keys"]) {
    const res = await outsider.page.goto(`/orgs/${slugA}/${p}`);
    expect(res?.status(), p).toBe(404);
    await expect(outsider.page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await expect(outsider.page.getByText("Org A")).toHaveCount(0);
  }
  // The same answer as an org that does not exist at all.
  expect((await outsider.page.goto(`/orgs/no-such-org-${Date.now()}/integrations`))?.status()).toBe(404);

  const replay = await replayAction(outsider.page, setupAction);
  expect(replay.text).toContain('"code":"org_not_found"');
  // The org switcher lists only the outsider's own organization.
  await outsider.page.goto("/");
  await outsider.page.getByRole("button", { name: /Switch organization/ }).click();
  await expect(outsider.page.getByRole("link", { name: /Org A/ })).toHaveCount(0);
  await expect(outsider.page.getByRole("link", { name: /Org B/ })).toBeVisible();
});
