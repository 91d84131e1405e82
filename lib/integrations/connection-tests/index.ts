/**
 * Moved: each provider protocol now lives in lib/integrations/protocols/<kind>/ behind the one
 * exhaustive map in lib/integrations/protocols/index.ts. This path re-exports it for older imports.
 */
export * from "../protocols";
