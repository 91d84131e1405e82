import { notFound } from "next/navigation";
import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { getSetupInfo, listIntegrations } from "@/lib/integrations";
import { getRegistry, resolveProvider } from "@/lib/integrations/registry";
import { TAGS_MAX } from "@/lib/integrations/schemas";
import { toClientProvider } from "@/lib/ui/provider-view";
import { ProviderManager } from "../../../../_components/integrations/provider-manager";
import { SetupInfoPanel } from "../../../../_components/integrations/setup-info-panel";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../../../../_components/ui/card";

export async function generateMetadata({ params }: { params: Promise<{ provider: string }> }) {
  const { provider } = await params;
  const p = provider === "saas" ? null : resolveProvider(provider);
  return { title: p ? p.name : "Add a SaaS vendor" };
}

export default async function ProviderPage({ params }: { params: Promise<{ org: string; provider: string }> }) {
  const { org, provider } = await params;
  const here = `/orgs/${org}/integrations/${provider}`;
  const ctx = await requireOrgPage(org, here);
  // "saas" is the manual-entry template itself: the page to add a vendor by name.
  const template = provider === "saas" ? getRegistry().providers.find((p) => p.template) : null;
  const def = template ?? resolveProvider(provider);
  if (!def) notFound();
  const manual = def.credential_type === "manual";
  const [list, info] = await Promise.all([
    template ? Promise.resolve(null) : listIntegrations({ actor: ctx.actor, org }),
    template || manual ? Promise.resolve(null) : getSetupInfo({ actor: ctx.actor, org, provider }),
  ]).catch((e) => handlePageError(e, here));
  return (
    <ProviderManager
      org={org}
      orgName={ctx.org.name}
      provider={toClientProvider(def)}
      adding={Boolean(template)}
      integration={list?.integrations.find((i) => i.provider === def.id)}
      tagsMax={TAGS_MAX}
      canWrite={ctx.canWrite}
      setupInfo={
        info ? (
          <SetupInfoPanel info={info} />
        ) : (
          <Card>
            <CardHeader>
              <CardTitle>Manual entry</CardTitle>
              <CardDescription>For vendors without a cost API we can test.</CardDescription>
            </CardHeader>
            <CardContent className="space-y-2 text-sm text-slate-700">
              <p>The vendor&apos;s name becomes the integration id saas_&lt;vendor&gt; (one per vendor).</p>
              <p>An API key is optional and stored encrypted like any other credential. Nothing is tested with the vendor.</p>
              <p>After saving, add the billing currency, monthly amount and renewal date as metadata.</p>
            </CardContent>
          </Card>
        )
      }
    />
  );
}
