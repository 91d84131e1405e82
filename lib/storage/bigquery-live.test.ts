import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BigQuery } from "@google-cloud/bigquery";
import { describe, it, vi } from "vitest";

import { BigQueryCredentialStore } from "./bigquery";
import { describeCredentialStoreContract } from "./store-contract";

/**
 * The CredentialStore contract against a REAL BigQuery dataset. Runs only when
 * BIGQUERY_LIVE_PROJECT is set and Google credentials are available (GOOGLE_APPLICATION_CREDENTIALS
 * or gcloud application-default credentials). Each case creates its own dataset
 * (`credstore_live_<random>`, location BIGQUERY_LIVE_LOCATION or US) and deletes it afterwards.
 * Needs roles/bigquery.dataEditor + roles/bigquery.jobUser (or bigquery.admin) on the project.
 */

const SKIP_REASON = "skipped: set BIGQUERY_LIVE_PROJECT and Google credentials to run against a real dataset";

const project = process.env.BIGQUERY_LIVE_PROJECT?.trim();
const location = process.env.BIGQUERY_LIVE_LOCATION?.trim() || "US";

function hasGoogleCredentials(): boolean {
  const explicit = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  if (explicit) return fs.existsSync(explicit);
  const configDir = process.env.CLOUDSDK_CONFIG || path.join(os.homedir(), ".config", "gcloud");
  return fs.existsSync(path.join(configDir, "application_default_credentials.json"));
}

const live = Boolean(project) && hasGoogleCredentials();

if (live) {
  // Real BigQuery DML takes seconds per statement.
  vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

  describeCredentialStoreContract(`bigquery (live: ${project})`, async () => {
    const dataset = `credstore_live_${Date.now()}_${randomBytes(4).toString("hex")}`;
    const client = new BigQuery({ projectId: project!, location });
    const store = new BigQueryCredentialStore({ projectId: project!, dataset, location, client, retryBaseMs: 500, maxAttempts: 6 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await client
          .dataset(dataset)
          .delete({ force: true })
          .catch(() => undefined);
      },
    };
  });
} else {
  console.info(`[bigquery-live] ${SKIP_REASON}`);
  describe("CredentialStore contract: bigquery (live)", () => {
    it.skip(SKIP_REASON, () => {});
  });
}
