/** Moved to lib/integrations/protocols/types.ts; re-exported for older imports. */
export * from "../protocols/types";
