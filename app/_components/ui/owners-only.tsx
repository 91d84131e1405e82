import type { ReactNode } from "react";
import { Alert } from "./alert";

/** What a viewer sees instead of a page kept to owners and admins: the page's heading, and why. */
export function OwnersOnlyNotice({ heading, title, children }: { heading: string; title: string; children: ReactNode }) {
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{heading}</h1>
      <Alert tone="info" title={title}>
        {children}
      </Alert>
    </div>
  );
}
