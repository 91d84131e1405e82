import { test as base, expect, type Browser, type BrowserContext, type Page, type Request } from "@playwright/test";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createKey, createOrg } from "../support/stack";

/**
 * Fixtures that keep the specs short:
 * - `org`: a fresh org with its admin key, made with the CLI (REST specs).
 * - `user`: a signed-up user in the test's own page (UI specs); `newUser()` makes more, each in its
 *   own browser context (its own session cookie).
 * Every browser context records the HTML and RSC payloads it receives into test-results/e2e-pages,
 * which the leak check (leak-check.spec.ts, run last) scans for secrets.
 */

export const ROOT = path.resolve(__dirname, "..", "..");
// Under Playwright's outputDir, which it empties at the start of every run.
export const PAGES_DIR = path.join(ROOT, "test-results", "playwright", "e2e-pages");
export const CANARIES_FILE = path.join(ROOT, "test-results", "playwright", "e2e-canaries.txt");
// The README's screenshots are refreshed with UPDATE_SCREENSHOTS=1; ordinary runs write theirs
// under test-results so a test run leaves the work tree clean.
export const SCREENSHOTS_DIR = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(__dirname, "screenshots") : path.join(__dirname, "..", "..", "test-results", "screenshots");
export const PASSWORD = "correct horse battery staple";

let recorded = 0;
/** Keep every document and RSC payload the browser receives, for the leak check. */
export function recordPages(context: BrowserContext): void {
  fs.mkdirSync(PAGES_DIR, { recursive: true });
  context.on("response", async (res) => {
    const type = res.request().resourceType();
    const ct = res.headers()["content-type"] ?? "";
    if (type !== "document" && !ct.includes("text/x-component") && !ct.includes("text/html")) return;
    try {
      const body = await res.text();
      fs.writeFileSync(path.join(PAGES_DIR, `${process.pid}-${Date.now()}-${recorded++}.txt`), `${res.request().method()} ${res.url()}\n${body}`);
    } catch {
      /* redirects and aborted navigations have no body */
    }
  });
}

/** Also keep the live DOM (what the user sees, including form state rendered into it). */
export async function snapshotDom(page: Page, label: string): Promise<string> {
  const html = await page.content();
  fs.mkdirSync(PAGES_DIR, { recursive: true });
  fs.writeFileSync(path.join(PAGES_DIR, `${process.pid}-${Date.now()}-${recorded++}-dom-${label}.txt`), html);
  return html;
}

export function rememberCanary(secret: string): void {
  fs.mkdirSync(path.dirname(CANARIES_FILE), { recursive: true });
  fs.appendFileSync(CANARIES_FILE, `${secret}\n`);
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS_DIR, `${name}.png`), fullPage: true });
}

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString("hex")}@example.com`;
}

export function uniqueSlug(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${crypto.randomBytes(2).toString("hex")}`;
}

export interface User {
  name: string;
  email: string;
  page: Page;
  context: BrowserContext;
}

/** Sign up through the form; lands on "create your first organization" (or `next`). */
export async function signUp(page: Page, opts: { name?: string; email?: string; prefilled?: boolean } = {}): Promise<{ name: string; email: string }> {
  const name = opts.name ?? "Ada Lovelace";
  const email = opts.email ?? uniqueEmail("user");
  if (!opts.prefilled) await page.goto("/sign-up");
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).not.toHaveURL(/\/sign-up/);
  return { name, email };
}

export async function signIn(page: Page, email: string): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/sign-in/);
}

/** Create an org through the UI (the signed-in user becomes its owner); lands on its integrations. */
export async function createOrgInUi(page: Page, name: string, slug: string): Promise<void> {
  await page.goto("/orgs/new");
  await page.getByLabel("Organization name").fill(name);
  await page.getByLabel("Slug").fill(slug);
  await page.getByRole("button", { name: "Create organization" }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/integrations$`));
}

export interface CapturedAction {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The next server-action POST the page makes (to replay it as someone else). */
export async function captureAction(page: Page, trigger: () => Promise<void>): Promise<CapturedAction> {
  const reqP = page.waitForRequest((r: Request) => r.method() === "POST" && Boolean(r.headers()["next-action"]));
  await trigger();
  const req = await reqP;
  const headers = { ...(await req.allHeaders()) };
  for (const h of Object.keys(headers)) if (h === "cookie" || h.startsWith(":") || h === "content-length") delete headers[h];
  return { url: req.url(), headers, body: req.postData() ?? "" };
}

/** Replay a captured server action with this page's session; returns the RSC response text. */
export async function replayAction(page: Page, action: CapturedAction): Promise<{ status: number; text: string }> {
  const res = await page.request.post(action.url, { headers: action.headers, data: action.body });
  return { status: res.status(), text: await res.text() };
}

async function newUserIn(browser: Browser, baseURL: string | undefined, prefix: string): Promise<User> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  recordPages(context);
  const page = await context.newPage();
  return { name: prefix, email: uniqueEmail(prefix), page, context };
}

export const test = base.extend<{
  org: { slug: string; adminKey: string; viewerKey: () => string };
  /** A second, third… person, each in a fresh browser context (not yet signed up). */
  newUser: (prefix: string) => Promise<User>;
}>({
  context: async ({ context }, use) => {
    recordPages(context);
    await use(context);
  },
  org: async ({}, use, testInfo) => {
    const dataDir = process.env.E2E_DATA_DIR!;
    const slug = `e2e-${testInfo.workerIndex}-${Date.now().toString(36)}`;
    const adminKey = createOrg(dataDir, slug);
    await use({ slug, adminKey, viewerKey: () => createKey(dataDir, slug, "viewer").api_key });
  },
  newUser: async ({ browser, baseURL }, use) => {
    const made: User[] = [];
    await use(async (prefix) => {
      const u = await newUserIn(browser, baseURL, prefix);
      made.push(u);
      return u;
    });
    for (const u of made) await u.context.close();
  },
});

export { expect };
