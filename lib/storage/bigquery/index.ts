/**
 * The BigQuery CredentialStore (production): the store (store.ts), its table (schema.ts), typed
 * query parameters (params.ts) and the classification of BigQuery's failures (errors.ts).
 */
export { BigQueryCredentialStore, type BigQueryCredentialStoreOptions } from "./store";
export { BIGQUERY_CLUSTERING, BIGQUERY_MAX_TIME_TRAVEL_HOURS, BIGQUERY_SCHEMA, BIGQUERY_TABLE, type BigQueryFieldSpec } from "./schema";
