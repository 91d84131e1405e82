"use client";

import { useActionState } from "react";
import { acceptInvitationAction, type FormState } from "@/actions/auth";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";

export function AcceptInvitation({ invitationId, orgName }: { invitationId: string; orgName: string }) {
  const [state, action, pending] = useActionState<FormState, FormData>(() => acceptInvitationAction(invitationId), null);
  return (
    <form action={action} className="space-y-3">
      <div aria-live="polite">{state?.error ? <Alert tone="error">{state.error}</Alert> : null}</div>
      <Button type="submit" disabled={pending}>
        {pending ? "Joining…" : `Accept and join ${orgName}`}
      </Button>
    </form>
  );
}
