import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { listWebhooksWithCreators } from "@/lib/webhooks/list-webhooks";
import { OwnersOnlyNotice } from "../../../../_components/ui/owners-only";
import { WebhooksManager } from "./webhooks-manager";

export const metadata = { title: "Webhooks" };

export default async function WebhooksPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  const here = `/orgs/${org}/settings/webhooks`;
  const ctx = await requireOrgPage(org, here);
  if (!ctx.canWrite) {
    return (
      <OwnersOnlyNotice heading="Webhooks" title="Only owners and admins manage webhooks">
        Your role in {ctx.org.name} is viewer. Ask an owner or admin to add an endpoint if you need to hear about credential changes.
      </OwnersOnlyNotice>
    );
  }
  const webhooks = await listWebhooksWithCreators({ actor: ctx.actor, org }).catch((e) => handlePageError(e, here));
  return <WebhooksManager org={org} orgName={ctx.org.name} initial={webhooks} />;
}
