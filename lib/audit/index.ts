import "server-only";

/**
 * The audit trail (docs/security.md, "Audit trail"): every change and credential access, one
 * event each, recorded by the core use cases; per-org HMAC hash chain; retention.
 */
export { recordAudit, recordAuditOrThrow, recordAuditFailure, pruneExpiredAuditEvents, auditActorOf, type AuditInput, type AuditBackend } from "./record-audit";
export { listAuditEvents, authorizeAuditReadOrThrow, presentAuditEvent } from "./list-audit-events";
export { verifyAuditTrail, type AuditVerifyReport } from "./verify-audit-trail";
export { recordFailedSignIn } from "./record-sign-in-failure";
export { auditEventsToCsv } from "./csv";
export type { AuditStore } from "./audit-store";
