import { getRegistry, type ProviderDef, type Registry } from "./registry";

/** The registry as GET /providers and the forms show it: everything a person needs, never a secret. */
export function publicProvider(p: ProviderDef) {
  return {
    id: p.id,
    ...(p.template ? { template: true, id_pattern: p.id_pattern } : {}),
    name: p.name,
    category: p.category,
    credential_type: p.credential_type,
    credential_type_label: p.credential_type_label,
    description: p.description,
    fields: p.fields.map((f) => ({
      name: f.name,
      label: f.label,
      type: f.type,
      required: f.required,
      secret: f.secret,
      ...(f.pattern ? { pattern: f.pattern, message: f.message } : {}),
      ...(f.required_when ? { required_when: f.required_when } : {}),
      ...(f.format ? { format: f.format } : {}),
      ...(f.max_length ? { max_length: f.max_length } : {}),
      ...(f.example ? { example: f.example } : {}),
      ...(f.help ? { help: f.help } : {}),
    })),
    metadata: p.metadata,
    connection_test: p.connection_test,
    cost_permissions: p.cost_permissions,
    ...(p.roles ? { roles: p.roles } : {}),
    docs: p.docs,
    rate_limits: p.rate_limits,
  };
}

export function publicRegistry(registry: Registry = getRegistry()) {
  return {
    categories: registry.categories,
    providers: registry.providers.map(publicProvider),
  };
}
