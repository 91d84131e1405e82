import fs from "node:fs";
import path from "node:path";
import { test, expect, signUp, PASSWORD } from "./fixtures";

/**
 * Forgot password, in the browser: the e2e server has no SMTP_URL, so the reset mail is a file in
 * DATA_DIR/outbox (lib/mail); the spec reads it as the operator would and follows the link.
 */
function mailTo(email: string, marker: string): string | null {
  const dir = path.join(process.env.E2E_DATA_DIR!, "outbox");
  if (!fs.existsSync(dir)) return null;
  for (const f of fs.readdirSync(dir).sort().reverse()) {
    // Quoted-printable (RFC 2045 §6.7): soft line breaks and =XX escapes (`token=` is `token=3D`).
    const text = fs
      .readFileSync(path.join(dir, f), "utf8")
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (text.includes(`To: ${email}`) && text.includes(marker)) return text;
  }
  return null;
}

test("forgot password: the link from the mail sets a new password, the old one stops working", async ({ newUser }) => {
  const user = await newUser("forgetful");
  await signUp(user.page, { email: user.email });
  const other = await newUser("forgetful-later");

  await other.page.goto("/sign-in");
  await other.page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(other.page.getByRole("heading", { name: "Reset your password" })).toBeVisible();
  await other.page.getByLabel("Email").fill(user.email);
  await other.page.getByRole("button", { name: "Send the link" }).click();
  await expect(other.page.getByText(`If an account exists for ${user.email}, we sent it a link`)).toBeVisible();

  await expect.poll(() => mailTo(user.email, "/reset-password?token=")).not.toBeNull();
  const link = /http:\/\/\S+\/reset-password\?token=[A-Za-z0-9_-]+/.exec(mailTo(user.email, "/reset-password?token=")!)![0];
  await other.page.goto(new URL(link).pathname + new URL(link).search);
  await other.page.getByLabel("New password").fill("a brand new passphrase");
  await other.page.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.page).toHaveURL(/\/sign-in\?reset=1$/);
  await expect(other.page.getByText("Your password was changed")).toBeVisible();

  // The old password is refused; the new one works.
  await other.page.getByLabel("Email").fill(user.email);
  await other.page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await other.page.getByRole("button", { name: "Sign in" }).click();
  await expect(other.page.getByText("Wrong email or password.")).toBeVisible();
  await other.page.getByLabel("Password", { exact: true }).fill("a brand new passphrase");
  await other.page.getByRole("button", { name: "Sign in" }).click();
  await expect(other.page).not.toHaveURL(/\/sign-in/);

  // The same link a second time: refused.
  await other.page.goto(new URL(link).pathname + new URL(link).search);
  await other.page.getByLabel("New password").fill("yet another passphrase");
  await other.page.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.page.getByText("This reset link is invalid, expired or already used.")).toBeVisible();
});
