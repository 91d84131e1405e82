import { handlePageError, requireOrgPage } from "@/lib/auth/page-guard";
import { listOrgApiKeys } from "@/lib/auth/organizations";
import { ApiKeysManager } from "../../../../_components/settings/api-keys-manager";
import { Alert } from "../../../../_components/ui/alert";

export const metadata = { title: "API keys" };

export default async function ApiKeysPage({ params }: { params: Promise<{ org: string }> }) {
  const { org } = await params;
  const here = `/orgs/${org}/settings/api-keys`;
  const ctx = await requireOrgPage(org, here);
  if (!ctx.canWrite) {
    return (
      <div className="space-y-4">
        <h1 className="text-2xl font-semibold">API keys</h1>
        <Alert tone="info" title="Only owners and admins manage API keys">
          Your role in {ctx.org.name} is viewer. Ask an owner or admin for a viewer key if a script needs to read the integrations.
        </Alert>
      </div>
    );
  }
  const keys = await listOrgApiKeys({ actor: ctx.actor, org }).catch((e) => handlePageError(e, here));
  return <ApiKeysManager org={org} orgName={ctx.org.name} initial={keys} />;
}
