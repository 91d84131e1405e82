/**
 * The registry's zod schemas (lib/integrations/schemas.ts), loaded on demand: the connect and
 * metadata forms check input with the server's own schemas, but zod is most of their JavaScript,
 * so it is fetched when a form is first used (focus or submit), not with the page.
 */
let loading: Promise<typeof import("@/lib/integrations/schemas")> | null = null;

export function loadSchemas() {
  loading ??= import("@/lib/integrations/schemas");
  return loading;
}
