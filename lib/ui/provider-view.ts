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
    paste_json: pasteJsonOf(p),
  };
}

/**
 * The paste box's mapping, from the registry's `paste_keys` (never from field names): each JSON
 * key a pasted document may carry → the field it fills and that field's label. null when the
 * provider declares none (no paste box).
 */
export function pasteJsonOf(p: Pick<ProviderDef, "fields">): Array<{ key: string; field: string; label: string }> | null {
  const map = p.fields.flatMap((f) => (f.paste_keys ?? []).map((key) => ({ key, field: f.name, label: f.label })));
  return map.length > 0 ? map : null;
}

export type ClientProvider = ReturnType<typeof toClientProvider>;

/** The little a card on the overview needs. */
export function toProviderCard(p: ProviderDef) {
  return { id: p.id, name: p.name, category: p.category, credential_type_label: p.credential_type_label, description: p.description };
}
export type ProviderCard = ReturnType<typeof toProviderCard>;
