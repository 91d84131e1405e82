import "server-only";

/**
 * The credential core: one function per use case, each in its own file, each taking the actor
 * from the server and doing its own authorization. Route handlers, server actions and the CLI
 * call these and nothing else.
 */
export { setupIntegration, SETUP_STEPS, type SetupResult, type SetupStep } from "./setup-integration";
export { validateIntegration, type ValidateResult } from "./validate-integration";
export { listIntegrations } from "./list-integrations";
export { deleteIntegration } from "./delete-integration";
export { updateIntegrationMetadata } from "./update-integration-metadata";
export { getCredential } from "./get-credential";
export { getDeps, setDeps, createDeps, type CoreDeps } from "../deps";
export { getSetupInfo, type SetupInfo } from "./get-setup-info";
export { rotateEncryption, type RotationReport } from "./rotate-encryption";
export { validateAllIntegrations, type ValidateAllReport, type ValidateAllResult } from "./validate-all-integrations";
export { keyVersionStatus, type KeyVersionStatus } from "./key-version-status";
export { addLocalKeyVersion } from "./add-key-version";
export { retireLocalKeyVersion } from "./retire-key-version";
export { authenticate, clearAuthenticationCache, type PipelineAuth } from "./authenticate";
export { smokeTestProvider, type SmokeReport } from "./smoke-test-provider";
