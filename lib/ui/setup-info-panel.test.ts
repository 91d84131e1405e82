import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { SetupInfoPanel } from "../../app/_components/integrations/setup-info-panel";
import type { SetupInfo } from "../integrations/get-setup-info";

const info = (principal: string | null): SetupInfo => ({
  org: "acme",
  provider: "aws_iam",
  name: "AWS (IAM role)",
  category: "cloud",
  credential_type: "aws_role",
  docs: [],
  permissions: ["ce:GetCostAndUsage"],
  roles: [],
  steps: ["Create a role."],
  aws: {
    external_id: "cm-abc",
    platform_principal: principal,
    trust_policy: principal ? { Statement: [{ Principal: { AWS: principal } }] } : null,
    cloudformation_template: principal ? { Resources: {} } : null,
    iam_policy: { Statement: [{ Action: ["ce:GetCostAndUsage"] }] },
    ...(principal ? {} : { note: "The operator must set PLATFORM_AWS_PRINCIPAL_ARN." }),
  },
});

describe("setup-info panel (AWS)", () => {
  it("without a platform identity: the operator's note, and no trust policy or template to copy", () => {
    const html = renderToStaticMarkup(createElement(SetupInfoPanel, { info: info(null) }));
    expect(html).toContain("The operator must set PLATFORM_AWS_PRINCIPAL_ARN.");
    expect(html).toContain('data-testid="aws-operator-note"');
    expect(html).not.toContain("Trust policy");
    expect(html).not.toContain("CloudFormation");
    expect(html).not.toContain("PLATFORM_PRINCIPAL_ARN&gt;");
    expect(html).not.toContain("null");
    // The note is said once.
    expect(html.split("The operator must set").length - 1).toBe(1);
    // What still works: the external ID and the permissions policy.
    expect(html).toContain("cm-abc");
    expect(html).toContain("Permissions policy");
  });

  it("with a platform identity: trust policy and CloudFormation tabs, no operator note", () => {
    const html = renderToStaticMarkup(createElement(SetupInfoPanel, { info: info("arn:aws:iam::123456789012:role/platform") }));
    expect(html).toContain("Trust policy");
    expect(html).toContain("CloudFormation");
    expect(html).not.toContain("aws-operator-note");
  });
});
