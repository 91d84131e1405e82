/** Moved to lib/integrations/protocols/http.ts; re-exported for older imports. */
export * from "../protocols/http";
