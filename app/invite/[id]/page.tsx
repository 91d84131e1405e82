import Link from "next/link";
import { findUserById } from "@/lib/auth/accounts";
import { getInvitationPreview } from "@/lib/auth/org-accounts";
import { getSession } from "@/lib/auth/session";
import { getEnv } from "@/lib/env";
import { mailIsDelivered } from "@/lib/mail";
import { ResendVerification } from "../../_components/auth/password-forms";
import { signOutAction } from "@/actions/auth";
import { BrandHeader } from "../../_components/brand";
import { AcceptInvitation } from "../../_components/orgs/accept-invitation";
import { Alert } from "../../_components/ui/alert";
import { buttonClasses } from "../../_components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../../_components/ui/card";

export const metadata = { title: "Invitation", referrer: "no-referrer" };

export default async function InvitePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const [preview, session] = await Promise.all([getInvitationPreview(id), getSession()]);
  const here = `/invite/${encodeURIComponent(id)}`;
  let body;
  if (!preview) {
    body = (
      <Alert tone="error" title="This invitation link is not valid">
        Check that you copied the whole link, or ask the person who invited you for a new one.
      </Alert>
    );
  } else if (preview.state !== "pending") {
    body = (
      <Alert tone="warning" title={`This invitation is ${preview.state}`}>
        Ask an owner or admin of {preview.orgName} for a new invitation.
      </Alert>
    );
  } else if (!session) {
    const q = (extra: string) => `?next=${encodeURIComponent(here)}&email=${encodeURIComponent(preview.email)}${extra}`;
    body = (
      <>
        <p className="text-slate-700">
          Sign in or create an account with <strong>{preview.email}</strong> to accept.
        </p>
        <div className="flex flex-wrap gap-2">
          <Link className={buttonClasses("primary")} href={`/sign-up${q("")}`}>
            Create an account
          </Link>
          <Link className={buttonClasses("outline")} href={`/sign-in${q("")}`}>
            Sign in
          </Link>
        </div>
      </>
    );
  } else if (session.email.toLowerCase() !== preview.email.toLowerCase()) {
    body = (
      <>
        <Alert tone="warning" title="This invitation is for someone else">
          It was sent to {preview.email}, and you are signed in as {session.email}. Sign out and sign in with the invited address.
        </Alert>
        <form action={signOutAction}>
          <button type="submit" className={buttonClasses("outline")}>
            Sign out
          </button>
        </form>
      </>
    );
  } else if (mailIsDelivered(getEnv()) && !(await findUserById(getEnv(), session.userId))?.emailVerified) {
    // With real mail, an invitation is accepted only from a confirmed address (docs/security.md).
    body = (
      <>
        <Alert tone="warning" title="Confirm your email address first">
          Open the confirmation link we mailed to {session.email}, then come back to this page.
        </Alert>
        <ResendVerification />
      </>
    );
  } else {
    body = <AcceptInvitation invitationId={preview.token} orgName={preview.orgName} />;
  }
  return (
    <div className="flex min-h-screen flex-col">
      <BrandHeader />
      <main id="main" className="flex flex-1 items-start justify-center px-4 py-12">
        <Card className="w-full max-w-lg">
          <CardHeader>
            <CardTitle className="text-xl">{preview ? `Join ${preview.orgName}` : "Invitation"}</CardTitle>
            {preview ? (
              <CardDescription>
                You were invited as <strong>{preview.role}</strong>
                {preview.role === "viewer" ? ": you will see the integrations but not change them." : ": you will manage the integrations and keys."}
              </CardDescription>
            ) : null}
          </CardHeader>
          <CardContent className="space-y-4">{body}</CardContent>
        </Card>
      </main>
    </div>
  );
}
