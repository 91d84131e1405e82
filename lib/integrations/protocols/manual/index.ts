import "server-only";

import { combineChecks, skippedCheck } from "../http";
import type { ConnectionTest, PipelineAuthenticator, SetupInfoBuilder } from "../types";

/**
 * Manual-entry SaaS vendors (docs/providers.md, "Manual SaaS entries"): there is no remote credential, so nothing is called.
 * The values were validated locally by the registry before this runs.
 */
export const MANUAL_ENTRY_MESSAGE =
  "Manual entries have no remote credential to test; the values are stored encrypted as entered.";

export const testManual: ConnectionTest = async () =>
  combineChecks([skippedCheck("manual_entry", MANUAL_ENTRY_MESSAGE)], { account: null, key_kind: "manual" });

/** For pipelines: the stored fields as entered (and normalized by the format check). */
export const authenticateManual: PipelineAuthenticator = async (ctx) => ({ kind: "manual", provider: ctx.provider, fields: { ...ctx.credential }, expires_at: null });

export const manualSetupInfo: SetupInfoBuilder = async () => ({
  steps: ["Manual entry: nothing is tested remotely. Enter the vendor's name and, optionally, an API key, base URL and notes."],
});
