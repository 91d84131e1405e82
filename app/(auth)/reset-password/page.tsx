import Link from "next/link";
import { ResetPasswordForm } from "../../_components/auth/password-forms";
import { Alert } from "../../_components/ui/alert";

export const metadata = { title: "Choose a new password", referrer: "no-referrer" };

/** The link from the reset mail: /reset-password?token=… (the token is checked when the form is sent). */
export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { token } = await searchParams;
  if (typeof token !== "string" || !/^[A-Za-z0-9_-]{8,200}$/.test(token)) {
    return (
      <Alert tone="error" title="This reset link is not valid">
        Check that you opened the whole link from the mail, or{" "}
        <Link href="/forgot-password" className="underline">
          ask for a new one
        </Link>
        .
      </Alert>
    );
  }
  return <ResetPasswordForm token={token} />;
}
