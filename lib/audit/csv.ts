import { eventDetails, type AuditEvent } from "./events";

export const AUDIT_CSV_COLUMNS = [
  "id",
  "at",
  "org",
  "actor_type",
  "actor_id",
  "actor_email",
  "action",
  "provider",
  "fingerprint_before",
  "fingerprint_after",
  "outcome",
  "request_id",
  "client_ip",
  "target",
] as const;

/**
 * One CSV field (RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled). A
 * value a spreadsheet would run as a formula (leading = + - @, tab or CR) gets a leading apostrophe:
 * an email or label chosen by another member must not execute in the reader's spreadsheet
 * (https://owasp.org/www-community/attacks/CSV_Injection).
 */
export function csvField(v: string | null | undefined): string {
  let s = v ?? "";
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The header row, with its CRLF. */
export const AUDIT_CSV_HEADER = `${AUDIT_CSV_COLUMNS.join(",")}\r\n`;

/** The events as CSV rows (no header), each ending in CRLF (RFC 4180). */
export function auditEventsToCsvRows(events: readonly AuditEvent[]): string {
  let out = "";
  for (const e of events) out += `${[e.id, e.at, e.org, ...eventDetails(e)].map(csvField).join(",")}\r\n`;
  return out;
}

/** The events as CSV with a header row, CRLF line ends (RFC 4180). */
export function auditEventsToCsv(events: readonly AuditEvent[]): string {
  return AUDIT_CSV_HEADER + auditEventsToCsvRows(events);
}
