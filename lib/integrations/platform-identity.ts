import "server-only";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Env } from "../env";

let cached: { at: number; value: string | null } | null = null;

/** Forget the cached answer (tests). */
export function clearPlatformAwsPrincipalCache(): void {
  cached = null;
}

/** `arn:aws:sts::123:assumed-role/Role/session` → `arn:aws:iam::123:role/Role` (what a trust policy names). */
export function principalFromCallerArn(arn: string): string {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

/** A found identity is kept 10 minutes; "none" only 1 minute, so configuring one shows up soon. */
const FOUND_TTL_MS = 600_000;
const NONE_TTL_MS = 60_000;

/**
 * The AWS principal customers must trust: PLATFORM_AWS_PRINCIPAL_ARN, else the platform's own
 * identity from STS GetCallerIdentity, else null when none is configured. Both answers are cached
 * (a missing identity briefly), so on a default start without AWS credentials the setup-info page
 * does not wait on the SDK's credential chain every time.
 */
export async function getPlatformAwsPrincipal(env: Env, now: number): Promise<string | null> {
  if (env.PLATFORM_AWS_PRINCIPAL_ARN) return env.PLATFORM_AWS_PRINCIPAL_ARN;
  if (cached && now - cached.at < (cached.value ? FOUND_TTL_MS : NONE_TTL_MS)) return cached.value;
  let value: string | null = null;
  try {
    const sts = new STSClient({
      region: "us-east-1",
      maxAttempts: 1,
      ...(env.endpointOverrides.AWS_STS_ENDPOINT ? { endpoint: env.endpointOverrides.AWS_STS_ENDPOINT } : {}),
    });
    const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(3000) });
    value = out.Arn ? principalFromCallerArn(out.Arn) : null;
  } catch {
    value = null; // no platform identity configured (or STS unreachable): setup-info says so
  }
  cached = { at: now, value };
  return value;
}
