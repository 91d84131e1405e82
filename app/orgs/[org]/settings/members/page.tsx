import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { listOrgMembers } from "@/lib/auth/org-accounts";
import { MembersManager } from "../../../../_components/settings/members-manager";
import { QueryProvider } from "../../../../_components/query-provider";

export const metadata = { title: "Members" };

export default async function MembersPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  const here = `/orgs/${org}/settings/members`;
  const ctx = await requireOrgPage(org, here);
  const data = await listOrgMembers({ actor: ctx.actor, org }).catch((e) => handlePageError(e, here));
  // TanStack Query only where it is used (the settings managers), not in every org page's bundle.
  return (
    <QueryProvider>
      <MembersManager org={org} orgName={ctx.org.name} myRole={ctx.role} initial={data} />
    </QueryProvider>
  );
}
