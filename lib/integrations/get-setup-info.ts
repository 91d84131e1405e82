import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { getDeps, type CoreDeps } from "./deps";
import { resolveProviderOrThrow } from "./common";
import { getPlatformAwsPrincipal } from "./platform-identity";
import type { ResolvedProvider } from "./registry";

/** What the operator must configure before customers can connect an AWS role (setup-info's `aws.note`). */
export const PLATFORM_AWS_IDENTITY_MISSING =
  "Operator action needed: this server has no AWS identity, so there is no principal for a customer's role to trust. " +
  "Give the server AWS credentials that may call sts:AssumeRole (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, " +
  "or an instance or task role), and set PLATFORM_AWS_PRINCIPAL_ARN to the ARN customers should trust (or let the server read it " +
  "from STS GetCallerIdentity). Restart the server; this page then shows the trust policy.";

/** Read permissions the AWS role needs, per provider (mirrors cost_permissions in providers.yml). */
function awsActions(provider: ResolvedProvider): string[] {
  return provider.cost_permissions.filter((p) => /^[a-z0-9-]+:[A-Za-z*]+$/.test(p));
}

function trustPolicy(principal: string, externalId: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: principal },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": externalId } },
      },
    ],
  };
}

function cloudFormation(provider: ResolvedProvider, principal: string, externalId: string) {
  const roleName = provider.id === "aws_bedrock" ? "FinOpsBedrockReader" : "FinOpsCostReader";
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `Read-only role for the FinOps credential manager (${provider.name}). Grants only: ${awsActions(provider).join(", ")}.`,
    Resources: {
      FinOpsRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: roleName,
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: trustPolicy(principal, externalId),
          Policies: [
            {
              PolicyName: `${roleName}Policy`,
              PolicyDocument: {
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }],
              },
            },
          ],
        },
      },
    },
    Outputs: { RoleArn: { Description: "Paste this into the integration's role_arn field", Value: { "Fn::GetAtt": ["FinOpsRole", "Arn"] } } },
  };
}

export interface SetupInfo {
  org: string;
  provider: string;
  name: string;
  category: string;
  credential_type: string;
  docs: Array<{ title: string; url: string }>;
  permissions: string[];
  roles: string[];
  steps: string[];
  aws?: {
    external_id: string;
    platform_principal: string | null;
    /** null when the platform has no AWS identity: there is nothing a customer could trust yet. */
    trust_policy: unknown;
    /** null likewise (it embeds the trust policy). */
    cloudformation_template: unknown;
    iam_policy: unknown;
    /** For the operator, when the platform has no AWS identity: what to configure. */
    note?: string;
  };
  commands?: string[];
  policy_statements?: string[];
}

/**
 * What a person needs BEFORE creating the credential: for AWS roles the org's external ID, the
 * principal to trust, a trust policy and a CloudFormation template; for the others the roles,
 * commands or policies to run, the docs link and the permissions the cost pipeline needs.
 * Never a secret.
 */
export async function getSetupInfo(
  args: { actor: Actor | null; org: string; provider: string },
  deps: CoreDeps = getDeps(),
): Promise<SetupInfo> {
  const org = await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const base: SetupInfo = {
    org: org.slug,
    provider: provider.id,
    name: provider.name,
    category: provider.category,
    credential_type: provider.credential_type,
    docs: provider.docs,
    permissions: provider.cost_permissions,
    roles: provider.roles ?? [],
    steps: [],
  };
  switch (provider.id) {
    case "aws_iam":
    case "aws_bedrock": {
      const principal = await getPlatformAwsPrincipal(deps.env, deps.now());
      base.aws = {
        external_id: org.externalId,
        platform_principal: principal,
        // Without the platform's own AWS identity no trust policy can name a principal: none is offered
        // (a placeholder policy would be copied and fail), only the operator's to-do below.
        trust_policy: principal ? trustPolicy(principal, org.externalId) : null,
        cloudformation_template: principal ? cloudFormation(provider, principal, org.externalId) : null,
        iam_policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }] },
        ...(principal ? {} : { note: PLATFORM_AWS_IDENTITY_MISSING }),
      };
      base.steps = principal
        ? [
            "Create an IAM role in the account that holds your costs (for AWS Organizations: the management/payer account), using the CloudFormation template or the trust policy below.",
            `The trust policy must name the platform principal and require the external ID ${org.externalId}: it is unique to your organization and protects against the confused-deputy problem.`,
            `Attach a policy allowing only: ${awsActions(provider).join(", ")}.`,
            provider.id === "aws_bedrock"
              ? "Paste the role ARN and the Bedrock region into the form."
              : "Paste the role ARN into the form. The connection test makes one Cost Explorer call (AWS bills $0.01 per call).",
          ]
        : [
            "This server has no AWS identity yet, so a role cannot be connected: ask the operator to configure one (see the note).",
            `Once it has one, this page shows the trust policy to create, with your organization's external ID ${org.externalId}.`,
          ];
      break;
    }
    case "aws_keys":
      base.aws = undefined;
      base.steps = [
        "Create an IAM user (or use an existing one) for the cost pipeline.",
        `Attach a policy allowing only: ${awsActions(provider).join(", ")}.`,
        "Create an access key for it and paste the key ID and secret. The connection test makes one Cost Explorer call (AWS bills $0.01 per call).",
        "Prefer the IAM role integration (aws_iam): it needs no long-lived secret.",
      ];
      base.commands = [
        "aws iam create-user --user-name finops-cost-reader",
        `aws iam put-user-policy --user-name finops-cost-reader --policy-name FinOpsCostRead --policy-document '${JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: awsActions(provider), Resource: "*" }] })}'`,
        "aws iam create-access-key --user-name finops-cost-reader",
      ];
      break;
    case "gcp":
      base.steps = [
        "Create a service account in the project that runs the billing queries.",
        "Grant it roles/bigquery.jobUser on that project and roles/bigquery.dataViewer on the billing export dataset.",
        "Create a JSON key for it and upload the file.",
      ];
      base.commands = [
        "gcloud iam service-accounts create finops-reader --project PROJECT_ID",
        'gcloud projects add-iam-policy-binding PROJECT_ID --member "serviceAccount:finops-reader@PROJECT_ID.iam.gserviceaccount.com" --role roles/bigquery.jobUser',
        'bq add-iam-policy-binding --member "serviceAccount:finops-reader@PROJECT_ID.iam.gserviceaccount.com" --role roles/bigquery.dataViewer PROJECT_ID:BILLING_DATASET',
        "gcloud iam service-accounts keys create key.json --iam-account finops-reader@PROJECT_ID.iam.gserviceaccount.com",
      ];
      break;
    case "gcp_vertex":
      base.steps = ["Create a service account with roles/aiplatform.user in the Vertex AI project.", "Create a JSON key for it and upload the file."];
      base.commands = [
        "gcloud iam service-accounts create finops-vertex --project PROJECT_ID",
        'gcloud projects add-iam-policy-binding PROJECT_ID --member "serviceAccount:finops-vertex@PROJECT_ID.iam.gserviceaccount.com" --role roles/aiplatform.user',
        "gcloud iam service-accounts keys create key.json --iam-account finops-vertex@PROJECT_ID.iam.gserviceaccount.com",
      ];
      break;
    case "azure":
      base.steps = [
        "Create a service principal with the Cost Management Reader role on the subscription.",
        "Paste the JSON the command prints (appId, password, tenant) and add the subscription ID.",
      ];
      base.commands = ['az ad sp create-for-rbac --name finops-cost-reader --role "Cost Management Reader" --scopes /subscriptions/SUBSCRIPTION_ID'];
      break;
    case "azure_openai":
      base.steps = [
        "Create a service principal and give it the Cognitive Services OpenAI User role on the Azure OpenAI resource.",
        "Give it Cost Management Reader on the subscription or resource group that holds the resource, so spend can be read.",
      ];
      base.commands = [
        "az ad sp create-for-rbac --name finops-openai-reader",
        'az role assignment create --assignee APP_ID --role "Cognitive Services OpenAI User" --scope /subscriptions/SUBSCRIPTION_ID/resourceGroups/RESOURCE_GROUP/providers/Microsoft.CognitiveServices/accounts/RESOURCE_NAME',
        'az role assignment create --assignee APP_ID --role "Cost Management Reader" --scope /subscriptions/SUBSCRIPTION_ID',
      ];
      break;
    case "oci":
      base.steps = [
        "Create a user in a group for the cost pipeline, and an API signing key (RSA, 2048 bits or more) for that user.",
        "Add the policy statements below in the root compartment (the last two give read access to the cost and usage reports Oracle keeps in its own tenancy).",
        "Paste the tenancy and user OCIDs, the key fingerprint, the private key (PEM) and the home region.",
      ];
      base.policy_statements = [
        "Allow group FinOpsReaders to read usage-report in tenancy",
        "define tenancy usage-report as ocid1.tenancy.oc1..aaaaaaaaned4fkpkisbwjlr56u7cj63lf3wffbilvqknstgtvzub7vhqkggq",
        "endorse group FinOpsReaders to read objects in tenancy usage-report",
      ];
      break;
    case "openai":
      base.steps = [
        "An organization Owner creates an Admin key at platform.openai.com → Settings → Organization → Admin keys.",
        "Give it read access to usage (api.usage.read). Project keys cannot read organization costs.",
      ];
      break;
    case "anthropic":
      base.steps = ["An organization admin creates an Admin key (sk-ant-admin01-…) in the Claude Console → Settings → Admin keys. Workspace keys cannot read costs."];
      break;
    case "gemini":
      base.steps = [
        "Create an API key in Google AI Studio (new keys are auth keys, AQ.…).",
        "Gemini has no cost API: its spend appears in the Google Cloud project's billing export. Connect GCP too to read it.",
      ];
      break;
    default:
      base.steps = ["Manual entry: nothing is tested remotely. Enter the vendor's name and, optionally, an API key, base URL and notes."];
  }
  if (!base.aws) delete base.aws;
  return base;
}
