import type { TestProject } from "vitest/node";
import { startStack } from "./stack";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    dataDir: string;
    logFile: string;
    backends: "local" | "gcp";
    caDir: string;
    ports: { control: number; gcp: number; oci: number; aws: number; azureAuthority: number; azureManagement: number; azureOpenai: number; kms: number; bigquery: number };
  }
}

/** One server for the integration suite; each test file makes its own orgs. */
export default async function setup(project: TestProject) {
  const port = Number(process.env.INTEGRATION_PORT ?? 8231);
  const backends = process.env.STACK_BACKENDS === "gcp" ? "gcp" : "local";
  const stack = await startStack({ port, backends });
  project.provide("backends", stack.backends);
  project.provide("caDir", stack.caDir);
  project.provide("baseUrl", stack.baseUrl);
  project.provide("dataDir", stack.dataDir);
  project.provide("logFile", stack.logFile);
  project.provide("ports", stack.ports);
  return async () => {
    await stack.stop();
  };
}
