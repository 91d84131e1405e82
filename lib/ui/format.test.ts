import { describe, expect, it } from "vitest";
import { attentionAction, describeOutcome, describeTestOutcome, formatLastValidated, isManualEntry, needsAttention } from "./format";

const base = { provider: "openai", status: "active" as const, last_validated_at: "2026-11-25T22:01:09.123Z", last_error: null };

describe("overview wording", () => {
  it("Last validated is the last provider test's time; a manual entry is never tested", () => {
    expect(formatLastValidated(base)).toBe("2026-11-25 22:01 UTC");
    expect(formatLastValidated({ ...base, last_validated_at: null })).toBe("never");
    expect(formatLastValidated({ ...base, provider: "saas_datadog", last_validated_at: null })).toBe("not tested (manual entry)");
    expect(isManualEntry({ provider: "saas_x1" })).toBe(true);
    expect(isManualEntry({ provider: "openai" })).toBe(false);
  });

  it("needs attention: not active, or the last check failed; the action follows the failure", () => {
    expect(needsAttention(base)).toBe(false);
    expect(needsAttention({ ...base, status: "pending" })).toBe(true);
    const failed = (code: string) => ({ ...base, status: "invalid" as const, last_error: { code, message: "m", at: base.last_validated_at } });
    expect(needsAttention(failed("auth_failed"))).toBe(true);
    expect(attentionAction(failed("auth_failed"))).toMatch(/^Replace the credential/);
    expect(attentionAction({ ...failed("expired"), status: "expired" })).toMatch(/^Replace the credential/);
    expect(attentionAction(failed("permission_denied"))).toMatch(/^Grant the missing permission/);
    expect(attentionAction(failed("timeout"))).toMatch(/validate again in a few minutes/);
    // Still active, but the last validation hit a provider outage: attention, and "try later".
    expect(needsAttention({ ...base, last_error: { code: "network", message: "m", at: base.last_validated_at } })).toBe(true);
  });

  it("a skipped check is 'not run' (its own message says why); a skipped test is a manual entry's", () => {
    expect(describeOutcome("skipped")).toBe("not run");
    expect(describeTestOutcome("skipped")).toMatch(/manual entry/);
    expect(describeTestOutcome("auth_failed")).toBe(describeOutcome("auth_failed"));
  });
});
