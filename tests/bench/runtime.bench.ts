/**
 * `npm run bench`: the pipelines' decrypt cache. Not a test: it prints ratios against baselines
 * measured in the same run, and never fails on a time.
 *
 * 1. Cached getCredential() calls per second vs a plain Map.get() of the same object.
 * 2. 1,000 concurrent cold getCredential() calls on one credential: store reads and decrypts (want 1 and 1).
 * 3. Cold (store read + decrypt) vs cached latency.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { parseEnv } from "../../lib/env";
import { createDeps } from "../../lib/deps";
import { createOrganization } from "../../lib/auth/organizations";
import { setupIntegration } from "../../lib/integrations/setup-integration";
import { getCredential } from "../../lib/integrations/get-credential";
import type { CredentialStore } from "../../lib/storage/store";
import type { Cipher } from "../../lib/kms/cipher";

function counting<T extends object>(target: T, method: keyof T, counter: { n: number }): T {
  return new Proxy(target, {
    get(t, prop, recv) {
      const v = Reflect.get(t, prop, recv);
      if (prop === method && typeof v === "function") {
        return (...args: unknown[]) => {
          counter.n++;
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      }
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

function opsPerSecond(fn: () => unknown, ms = 1000): number {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return n / (ms / 1000);
}

async function asyncOpsPerSecond(fn: () => Promise<unknown>, ms = 1000): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) await fn();
    n += 1000;
  }
  return n / (ms / 1000);
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cm-bench-"));
  const env = parseEnv({ DATA_DIR: dataDir, LOG_LEVEL: "silent" });
  const reads = { n: 0 };
  const decrypts = { n: 0 };
  const base = createDeps(env, { log: pino({ level: "silent" }) });
  const deps = {
    ...base,
    store: counting<CredentialStore>(base.store, "get", reads),
    cipher: counting<Cipher>(base.cipher, "decrypt", decrypts),
  };
  const system = { kind: "system", name: "bench" } as const;
  await createOrganization({ actor: system, slug: "bench" }, deps);
  await setupIntegration({ actor: system, org: "bench", provider: "saas_bench", input: { credential: { display_name: "Bench", api_key: "bench-secret-value" } } }, deps);

  // 2. Single-flight: 1,000 concurrent cold calls.
  deps.cache.clear();
  reads.n = 0;
  decrypts.n = 0;
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: 1000 }, () => getCredential("bench", "saas_bench", deps)));
  const coldConcurrentMs = performance.now() - t0;
  const same = all.every((c) => c === all[0]);
  const concurrentReads = reads.n;
  const concurrentDecrypts = decrypts.n;

  // 3. Cold vs cached latency.
  const coldSamples: number[] = [];
  for (let i = 0; i < 200; i++) {
    deps.cache.clear();
    const s = performance.now();
    await getCredential("bench", "saas_bench", deps);
    coldSamples.push(performance.now() - s);
  }
  coldSamples.sort((a, b) => a - b);

  // 1. Throughput: cached getCredential vs Map.get baseline, same run.
  const map = new Map([["bench\u0000saas_bench", all[0]]]);
  opsPerSecond(() => map.get("bench\u0000saas_bench"), 200); // warm-up
  const baseline = opsPerSecond(() => map.get("bench\u0000saas_bench"));
  await asyncOpsPerSecond(() => getCredential("bench", "saas_bench", deps), 200);
  const cached = await asyncOpsPerSecond(() => getCredential("bench", "saas_bench", deps));
  const awaitedBaseline = await asyncOpsPerSecond(async () => map.get("bench\u0000saas_bench"));

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log("Pipeline decrypt cache (getCredential)");
  console.log(`  Map.get baseline (sync)             ${fmt(baseline)} ops/s`);
  console.log(`  Map.get baseline (awaited)          ${fmt(awaitedBaseline)} ops/s`);
  console.log(`  cached getCredential (awaited)      ${fmt(cached)} ops/s`);
  console.log(`  ratio cached / awaited Map.get      ${(cached / awaitedBaseline).toFixed(2)}`);
  console.log(`  ratio cached / sync Map.get         ${(cached / baseline).toFixed(3)}`);
  console.log("1,000 concurrent cold calls on one credential");
  console.log(`  store reads ${concurrentReads}, decrypts ${concurrentDecrypts}, all callers got the same object: ${same}, ${coldConcurrentMs.toFixed(1)} ms`);
  console.log("Cold call (store read + decrypt) latency");
  console.log(`  p50 ${coldSamples[100]!.toFixed(3)} ms, p99 ${coldSamples[197]!.toFixed(3)} ms; cached call ${(1000 / cached).toFixed(4)} ms`);
  console.log(`  ratio cold p50 / cached             ${(coldSamples[100]! / (1000 / cached)).toFixed(1)}`);
  await deps.store.close();
  await deps.auth.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

void main();
