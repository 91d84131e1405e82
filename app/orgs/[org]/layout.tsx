import type { ReactNode } from "react";
import { requireOrgPage } from "@/lib/auth/page-guard";
import { listMyOrganizations } from "@/lib/auth/org-accounts";
import { getSession } from "@/lib/auth/session";
import { AppHeader } from "../../_components/app-header";

export default async function OrgLayout({ children, params }: { children: ReactNode; params: Promise<{ org: string }> }) {
  const { org } = await params;
  const ctx = await requireOrgPage(org, `/orgs/${org}/integrations`);
  const session = await getSession();
  const orgs = await listMyOrganizations(ctx.actor);
  return (
    <>
      <AppHeader email={session?.email ?? ""} orgs={orgs} current={{ slug: ctx.org.slug, name: ctx.org.name, role: ctx.role }} />
      <main id="main" className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
        {children}
      </main>
    </>
  );
}
