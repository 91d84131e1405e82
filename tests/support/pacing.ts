/**
 * For the protocols' pacing tests (docs/security.md, "Pacing"): the registry's entry for a provider
 * with a budget of one call a minute, and the options runConnectionTest / runAuthenticate take,
 * spending it on a fresh in-process limiter. The endpoints point at a test's fakes through the
 * same override variables an operator sets.
 */
import type { ProtocolOptions } from "@/lib/integrations/protocols";
import type { EndpointEnvVar, ResolvedProvider } from "@/lib/integrations/registry-schema";
import { resolveProvider } from "@/lib/integrations/registry";
import { WindowRateLimiter, type RateLimiter } from "@/lib/rate-limit";

export interface PacedRun {
  provider: ResolvedProvider;
  opts: ProtocolOptions & { limiter: RateLimiter; fingerprint: string };
}

export function tinyBudget(
  providerId: string,
  overrides: Partial<Record<EndpointEnvVar, string>>,
  extra: Partial<ProtocolOptions> = {},
): PacedRun {
  const base = resolveProvider(providerId);
  if (!base) throw new Error(`unknown provider ${providerId}`);
  const provider: ResolvedProvider = { ...base, rate_limits: { ...base.rate_limits, requests_per_minute: 1 } };
  const t = Date.now();
  return {
    provider,
    opts: {
      timeoutMs: 5_000,
      overrides,
      fetch: globalThis.fetch,
      now: () => t, // both runs in the same window
      org: "acme",
      externalId: "cm-test-external-id",
      limiter: new WindowRateLimiter(60),
      fingerprint: `fp-${providerId}`,
      ...extra,
    },
  };
}
