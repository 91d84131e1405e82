import "server-only";
import type { ProviderDef } from "../integrations/registry-schema";

/**
 * What a provider page sends to the browser: the registry entry's fields and metadata keys with
 * every rule (pattern, reject, warn, required_when), so the form builds the exact schema the
 * server parses with (buildCredentialSchema / buildMetadataSchema). Registry data only: no
 * endpoints, no secrets.
 */
export function toClientProvider(p: ProviderDef) {
  return {
    id: p.id,
    template: p.template ?? false,
    id_pattern: p.id_pattern ?? null,
    name: p.name,
    category: p.category,
    credential_type: p.credential_type,
    credential_type_label: p.credential_type_label,
    description: p.description,
    fields: p.fields,
    metadata: p.metadata,
    checks: p.connection_test.checks,
    docs: p.docs,
  };
}

export type ClientProvider = ReturnType<typeof toClientProvider>;

/** The little a card on the overview needs. */
export function toProviderCard(p: ProviderDef) {
  return { id: p.id, name: p.name, category: p.category, credential_type_label: p.credential_type_label, description: p.description };
}
export type ProviderCard = ReturnType<typeof toProviderCard>;
