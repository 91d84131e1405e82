import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { listIntegrations } from "@/lib/integrations";
import { getRegistry } from "@/lib/integrations/registry";
import { toProviderCard } from "@/lib/ui/provider-view";
import { IntegrationsOverview } from "../../../_components/integrations/integrations-overview";

export const metadata = { title: "Integrations" };

export default async function IntegrationsPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  const here = `/orgs/${org}/integrations`;
  const ctx = await requireOrgPage(org, here);
  const list = await listIntegrations({ actor: ctx.actor, org }).catch((e) => handlePageError(e, here));
  const registry = getRegistry();
  const categories = (Object.entries(registry.categories) as Array<[string, { name: string }]>).map(([id, c]) => ({ id, name: c.name }));
  return (
    <IntegrationsOverview
      org={org}
      orgName={ctx.org.name}
      integrations={list.integrations}
      providers={registry.providers.filter((p) => !p.template).map(toProviderCard)}
      categories={categories}
      canWrite={ctx.canWrite}
    />
  );
}
