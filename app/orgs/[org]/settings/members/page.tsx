import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { listOrgMembers } from "@/lib/auth/org-accounts";
import { MembersManager } from "../../../../_components/settings/members-manager";

export const metadata = { title: "Members" };

export default async function MembersPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  const here = `/orgs/${org}/settings/members`;
  const ctx = await requireOrgPage(org, here);
  const data = await listOrgMembers({ actor: ctx.actor, org }).catch((e) => handlePageError(e, here));
  return <MembersManager org={org} orgName={ctx.org.name} myRole={ctx.role} initial={data} />;
}
