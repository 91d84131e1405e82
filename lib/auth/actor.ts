import type { ApiKeyRole } from "./auth-store";

/**
 * Who is calling, as established by the server (API key, session or the local CLI); never taken
 * from a request body.
 */
export type Actor = (
  | { kind: "api_key"; org: string; role: ApiKeyRole; keyId: string }
  | { kind: "user"; userId: string; email: string }
  | { kind: "system"; name: string }
) &
  RequestContext;

/** Where the call came from, for the audit trail: set by the transport (route wrapper, session), absent for the CLI. */
export interface RequestContext {
  requestId?: string;
  clientIp?: string | null;
}

export type OrgRole = "owner" | "admin" | "viewer";
export type OrgAction = "read" | "write";
