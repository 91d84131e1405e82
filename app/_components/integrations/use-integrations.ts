"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { listIntegrationsAction } from "@/actions/integrations";
import { unwrap } from "@/lib/ui/action-result";
import type { Integration } from "@/lib/integrations/schemas";

export type IntegrationList = { org: string; integrations: Integration[] };

export const integrationsKey = (org: string) => ["integrations", org] as const;

/** The org's integrations, kept fresh: the fetcher is the list server action (same authorization as REST). */
export function useIntegrations(org: string, initial: IntegrationList) {
  return useQuery({
    queryKey: integrationsKey(org),
    queryFn: async () => unwrap(await listIntegrationsAction(org)),
    initialData: initial,
  });
}

/** Call after every change so every view of the list refetches. */
export function useInvalidateIntegrations(org: string) {
  const qc = useQueryClient();
  return () => qc.invalidateQueries({ queryKey: integrationsKey(org) });
}
