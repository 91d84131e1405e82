import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { RegistrySchema, type Registry, type ProviderDef, type ResolvedProvider } from "./registry-schema";

export * from "./registry-schema";

/** Where the registry lives; resolved from the working directory the app and CLI run in. */
export const REGISTRY_PATH = path.join(process.cwd(), "configs", "system", "providers.yml");

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

/** Parse and validate a registry document; throws RegistryError naming the failing path. */
export function parseRegistry(text: string, source = REGISTRY_PATH): Registry {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { merge: true });
  } catch (e) {
    throw new RegistryError(`Provider registry ${source} is not valid YAML: ${(e as Error).message}`);
  }
  const parsed = RegistrySchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 10).map((i) => {
      const where = describePath(raw, i.path);
      return `  - ${where}: ${i.message}`;
    });
    throw new RegistryError(`Provider registry ${source} is invalid:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

function describePath(raw: unknown, p: PropertyKey[]): string {
  // Name providers by id rather than by index, so the message points at the right entry.
  if (p[0] === "providers" && typeof p[1] === "number") {
    const providers = (raw as { providers?: Array<{ id?: string }> }).providers;
    const id = providers?.[p[1]]?.id ?? `#${p[1]}`;
    return ["providers", id, ...p.slice(2)].join(".");
  }
  return p.join(".") || "(root)";
}

let cached: Registry | null = null;

/** The registry, loaded and validated once per process. */
export function getRegistry(): Registry {
  if (!cached) {
    let text: string;
    try {
      text = fs.readFileSync(REGISTRY_PATH, "utf8");
    } catch {
      throw new RegistryError(`Provider registry not found at ${REGISTRY_PATH}`);
    }
    cached = parseRegistry(text);
  }
  return cached;
}

const resolved = new WeakMap<Registry, Map<string, ResolvedProvider | null>>();

/** Resolve a concrete provider id (including saas_<vendor>) or return null when unknown. Memoized per registry. */
export function resolveProvider(id: string, registry: Registry = getRegistry()): ResolvedProvider | null {
  let memo = resolved.get(registry);
  if (!memo) resolved.set(registry, (memo = new Map()));
  if (memo.has(id)) return memo.get(id)!;
  const r = resolveUncached(id, registry);
  if (memo.size < 10_000) memo.set(id, r);
  return r;
}

function resolveUncached(id: string, registry: Registry): ResolvedProvider | null {
  for (const p of registry.providers) {
    if (!p.template && p.id === id) return { ...p, registryId: p.id };
  }
  for (const p of registry.providers) {
    if (p.template && p.id_pattern && new RegExp(p.id_pattern).test(id)) {
      const vendor = id.slice(p.id.length + 1);
      return { ...p, id, registryId: p.id, name: `${vendor} (manual entry)` };
    }
  }
  return null;
}

/** The registry entries in file order (templates included, as themselves). */
export function listProviders(registry: Registry = getRegistry()): ProviderDef[] {
  return registry.providers;
}
