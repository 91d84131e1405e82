import type { ReactNode } from "react";
import type { SetupInfo } from "@/lib/integrations/get-setup-info";
import { Alert } from "../ui/alert";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { CopyBlock, CopyButton } from "../ui/copy-button";
import { Tabs } from "../ui/tabs";

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** What to prepare on the provider's side before connecting (from getSetupInfo): never a secret. */
export function SetupInfoPanel({ info }: { info: SetupInfo }) {
  const awsPolicyUsable = Boolean(info.aws?.platform_principal && info.aws.trust_policy);
  const tabs: Array<{ id: string; label: string; content: ReactNode }> = [];
  tabs.push({
    id: "steps",
    label: "Steps",
    content: (
      <div className="space-y-4">
        {info.aws ? (
          <div className="rounded-md border border-brand-100 bg-brand-50 p-3">
            <p className="text-sm font-medium" id="external-id-label">
              Your organization&apos;s external ID
            </p>
            <div className="mt-1 flex flex-wrap items-center gap-2">
              <code className="rounded bg-white px-2 py-1 text-sm break-all" data-testid="external-id">
                {info.aws.external_id}
              </code>
              <CopyButton value={info.aws.external_id} label="Copy external ID" describedBy="external-id-label" />
            </div>
          </div>
        ) : null}
        {info.aws && !awsPolicyUsable ? (
          <Alert tone="warning" title="The platform's AWS identity is not configured" data-testid="aws-operator-note">
            <p>{info.aws.note ?? "The operator of this platform must configure its AWS identity before a role can trust it."}</p>
            <p>Until then there is no trust policy to copy: it would have to name that identity.</p>
          </Alert>
        ) : info.aws?.note ? (
          <p className="text-xs text-amber-900">{info.aws.note}</p>
        ) : null}
        <ol className="list-decimal space-y-2 pl-5 text-sm text-slate-800">
          {info.steps.map((s) => (
            <li key={s}>{s}</li>
          ))}
        </ol>
        {info.roles.length > 0 ? (
          <div>
            <p className="text-sm font-medium">Roles to grant</p>
            <ul className="mt-1 list-disc pl-5 text-sm text-slate-700">
              {info.roles.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </div>
        ) : null}
        {info.permissions.length > 0 ? (
          <div>
            <p className="text-sm font-medium">Permissions the cost pipeline uses</p>
            <ul className="mt-1 flex flex-wrap gap-1.5">
              {info.permissions.map((p) => (
                <li key={p}>
                  <code className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{p}</code>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    ),
  });
  if (info.aws) {
    // The trust policy and the template name the platform's principal: without one (the operator
    // has not configured it) they are not offered, rather than offered with a placeholder.
    if (awsPolicyUsable) {
      tabs.push({ id: "trust", label: "Trust policy", content: <CopyBlock label="Trust policy JSON" value={json(info.aws.trust_policy)} /> });
    }
    tabs.push({ id: "policy", label: "Permissions policy", content: <CopyBlock label="IAM permissions policy JSON" value={json(info.aws.iam_policy)} /> });
    if (awsPolicyUsable && info.aws.cloudformation_template) {
      tabs.push({
        id: "cfn",
        label: "CloudFormation",
        content: <CopyBlock label="CloudFormation template JSON" value={json(info.aws.cloudformation_template)} />,
      });
    }
  }
  if (info.commands?.length) {
    tabs.push({
      id: "commands",
      label: "Commands",
      content: (
        <div className="space-y-3">
          {info.commands.map((c, i) => (
            <CopyBlock key={c} label={`Command ${i + 1}`} value={c} />
          ))}
        </div>
      ),
    });
  }
  if (info.policy_statements?.length) {
    tabs.push({ id: "statements", label: "Policy statements", content: <CopyBlock label="OCI policy statements" value={info.policy_statements.join("\n")} /> });
  }
  return (
    <Card>
      <CardHeader>
        <CardTitle>Before you connect</CardTitle>
        <CardDescription>What to set up on the {info.name} side. Nothing here is secret.</CardDescription>
      </CardHeader>
      <CardContent className="space-y-4">
        <Tabs label={`${info.name} setup`} tabs={tabs} />
        {info.docs.length > 0 ? (
          <div className="border-t border-slate-100 pt-3">
            <p className="text-sm font-medium">Documentation</p>
            <ul className="mt-1 space-y-1 text-sm">
              {info.docs.map((d) => (
                <li key={d.url}>
                  <a href={d.url} target="_blank" rel="noopener noreferrer" className="text-brand-700 underline">
                    {d.title}
                    <span className="sr-only"> (opens in a new tab)</span>
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </CardContent>
    </Card>
  );
}
