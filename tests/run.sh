#!/usr/bin/env bash
# `npm test`: everything CI runs, from a fresh clone. Installs what is missing (node_modules,
# Debian's Chromium for Playwright), then: typecheck, lint, unit tests, build, integration tests
# against the built server and the provider fakes, Playwright (API + Chromium). Ends with one
# "N passed, N failed" line summing every runner.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
export NEXT_TELEMETRY_DISABLED=1
mkdir -p test-results

step() { printf '\n=== %s ===\n' "$*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi

if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  step "install Debian's Chromium for Playwright"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

step "typecheck"
npx tsc --noEmit -p .

step "lint"
npx eslint . --max-warnings 0

step "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json=test-results/vitest-unit.json

step "build"
npx next build

step "integration tests: embedded defaults (SQLite + local key ring), built server + provider fakes"
npx vitest run --project integration --reporter=default --reporter=json --outputFile.json=test-results/vitest-integration.json

step "integration tests again: KMS_BACKEND=gcp + CREDENTIAL_STORE=bigquery (Cloud KMS gRPC fake + BigQuery REST fake)"
STACK_BACKENDS=gcp npx vitest run --project integration --reporter=default --reporter=json --outputFile.json=test-results/vitest-integration-gcp.json

step "playwright (api + chromium)"
CI="${CI:-}" npx playwright test

node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["test-results/vitest-unit.json", "test-results/vitest-integration.json", "test-results/vitest-integration-gcp.json"]) {
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
}
const e = JSON.parse(fs.readFileSync("test-results/e2e.json", "utf8")).stats;
passed += e.expected; failed += e.unexpected + (e.flaky || 0); skipped += e.skipped;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
'
