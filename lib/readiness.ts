import "server-only";
import { getDeps } from "./integrations/deps";

type Check = { status: "ok" | "failing"; backend: string; message?: string };

async function probe(backend: string, fn: () => Promise<void>, what: string, timeoutMs = 3000): Promise<Check> {
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), timeoutMs).unref())]);
    return { status: "ok", backend };
  } catch {
    return { status: "failing", backend, message: `${what} did not answer` };
  }
}

/** Readiness: a cheap call to the key service, the store and the accounts database, reported separately. */
export async function checkReadiness() {
  let deps;
  try {
    deps = getDeps();
  } catch {
    return { ready: false, status: "not_ready", checks: { config: { status: "failing", backend: "-", message: "configuration or backends failed to start" } } };
  }
  const [kms, store, auth] = await Promise.all([
    probe(deps.cipher.backend, () => deps.cipher.ping(), "the key service"),
    probe(deps.store.backend, () => deps.store.ping(), "the credential store"),
    probe(deps.auth.backend, () => deps.auth.ping(), "the accounts database"),
  ]);
  const ready = kms.status === "ok" && store.status === "ok" && auth.status === "ok";
  return { ready, status: ready ? "ready" : "not_ready", checks: { kms, store, auth } };
}
