import "server-only";
import { getDeps } from "./deps";

type Check = { status: "ok" | "failing"; backend: string; message?: string };

async function probe(backend: string, fn: () => Promise<void>, what: string, timeoutMs = 3000): Promise<Check> {
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), timeoutMs).unref())]);
    return { status: "ok", backend };
  } catch {
    return { status: "failing", backend, message: `${what} did not answer` };
  }
}

type Readiness = Awaited<ReturnType<typeof probeAll>>;

/**
 * How long one readiness result is served: /readyz is unauthenticated, so without this anyone
 * could make the server call the key service and the store (Cloud KMS, BigQuery: billed, rate
 * limited) once per request (docs/security.md). Concurrent callers share one probe in flight.
 */
export const READINESS_CACHE_MS = 5_000;

let cached: { at: number; result: Readiness } | null = null;
let inFlight: Promise<Readiness> | null = null;

/** Readiness, at most one probe per READINESS_CACHE_MS (and one at a time). */
export async function checkReadiness(now: () => number = Date.now): Promise<Readiness> {
  if (cached && now() - cached.at < READINESS_CACHE_MS) return cached.result;
  inFlight ??= probeAll()
    .then((result) => {
      cached = { at: now(), result };
      return result;
    })
    .finally(() => {
      inFlight = null;
    });
  return inFlight;
}

/** Forget the cached result (tests). */
export function resetReadinessCache(): void {
  cached = null;
}

/** Readiness: a cheap call to the key service, the store and the accounts database, reported separately. */
async function probeAll() {
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
