import "server-only";
import type { Actor } from "../auth/actor";
import { authorizeOrgOrThrow } from "../auth/authorize";
import { getDeps, type CoreDeps } from "../deps";
import { resolveProviderOrThrow } from "./common";
import { getPlatformAwsPrincipal } from "./platform-identity";
import { PROTOCOLS } from "./protocols";
import type { SetupInfo } from "./setup-info-schema";

export { PLATFORM_AWS_IDENTITY_MISSING } from "./protocols/aws";
export type { SetupInfo } from "./setup-info-schema";

/**
 * What a person needs BEFORE creating the credential: the docs, the permissions the cost pipeline
 * needs and the roles that grant them (from the registry), plus what the provider's protocol module
 * says to prepare (lib/integrations/protocols/<kind>/: for AWS roles the org's external ID, the
 * principal to trust, a trust policy and a CloudFormation template; gcloud, az and OCI policy
 * statements for the others). Never a secret.
 */
export async function getSetupInfo(
  args: { actor: Actor | null; org: string; provider: string },
  deps: CoreDeps = getDeps(),
): Promise<SetupInfo> {
  const org = await authorizeOrgOrThrow(deps, args.actor, args.org, "read");
  const provider = resolveProviderOrThrow(deps, args.provider);
  const parts = await PROTOCOLS[provider.connection_test.kind].setupInfo(
    provider,
    { slug: org.slug, externalId: org.externalId },
    { awsPrincipal: () => getPlatformAwsPrincipal(deps.env, deps.now()) },
  );
  const info: SetupInfo = {
    org: org.slug,
    provider: provider.id,
    name: provider.name,
    category: provider.category,
    credential_type: provider.credential_type,
    docs: provider.docs,
    permissions: provider.cost_permissions,
    roles: provider.roles ?? [],
    ...parts,
  };
  if (!info.aws) delete info.aws;
  return info;
}
