import Link from "next/link";
import { verifyEmailToken } from "@/lib/auth/accounts";
import { getEnv } from "@/lib/env";
import { Alert } from "../../_components/ui/alert";
import { buttonClasses } from "../../_components/ui/button";

export const metadata = { title: "Confirm your email address", referrer: "no-referrer" };
export const dynamic = "force-dynamic";

/** The link from the verification mail: /verify-email?token=… (Better Auth's signed token, 1 hour). */
export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { token } = await searchParams;
  const outcome = typeof token === "string" ? await verifyEmailToken(getEnv(), token) : "invalid";
  if (outcome === "verified") {
    return (
      <div className="space-y-4" data-testid="email-verified">
        <Alert tone="success" title="Your email address is confirmed">
          You can now accept invitations sent to it.
        </Alert>
        <Link className={buttonClasses("primary")} href="/">
          Continue
        </Link>
      </div>
    );
  }
  return (
    <Alert tone="error" title={outcome === "expired" ? "This confirmation link has expired" : "This confirmation link is not valid"}>
      Sign in and ask for a new link from the invitation page.
    </Alert>
  );
}
