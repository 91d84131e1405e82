#!/usr/bin/env bash
# `npm test`: everything CI runs, from a fresh clone. Installs what is missing (node_modules,
# Debian's Chromium for Playwright), then: typecheck, lint, unit tests, build, integration tests
# against the built server and the provider fakes, the attack suite (tests/security), Playwright (API + Chromium). Ends with one
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

# A throwaway Postgres for the unit project's Postgres suites (AuthStore and Better Auth on
# AUTH_DATABASE_URL; the Postgres limiter, cache invalidation and lease) and for the first integration
# pass's two-instance test (tests/integration/multi-instance.test.ts: two built servers on one
# Postgres), unless AUTH_TEST_DATABASE_URL already names one. Best effort: when Postgres
# cannot be had (no apt, no root, slow mirror, SKIP_POSTGRES=1) those suites skip and say so.
PG_TMP="" PG_BIN="" PG_WHY=""
stop_test_postgres() {
  if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
    pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
# Postgres refuses to run as root: as root, run its tools as the postgres user.
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
start_test_postgres() {
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$PG_BIN" ]; then
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
    $sudo timeout 180 bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql' >/dev/null 2>&1 \
      || { PG_WHY="apt-get install postgresql failed or took over 180 s"; return 1; }
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$PG_BIN" ] || { PG_WHY="postgresql installed but no /usr/lib/postgresql/*/bin"; return 1; }
  fi
  local port=54329
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do # taken (another run?): next port
    port=$((port + 1))
    [ "$port" -lt 54350 ] || { PG_WHY="no free port in 54329-54349"; return 1; }
  done
  PG_TMP="$(mktemp -d /tmp/cm-test-pg.XXXXXX)"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_TMP" || { PG_WHY="no postgres user to run it as"; return 1; }; fi
  pg_as "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U postgres -E UTF8 --no-sync >"$PG_TMP/initdb.log" 2>&1 \
    || { PG_WHY="initdb failed: $(tail -n 1 "$PG_TMP/initdb.log")"; return 1; }
  pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 30 \
    -o "-k $PG_TMP -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null 2>&1 \
    || { PG_WHY="postgres did not start: $(tail -n 1 "$PG_TMP/postgres.log" 2>/dev/null)"; return 1; }
  export AUTH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "throwaway Postgres ($("$PG_BIN/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port in $PG_TMP"
}
if [ -z "${AUTH_TEST_DATABASE_URL:-}" ]; then
  step "throwaway Postgres for the Postgres suites"
  trap stop_test_postgres EXIT
  if [ -n "${SKIP_POSTGRES:-}" ]; then
    echo "skipped (SKIP_POSTGRES is set): the Postgres suites will skip"
  elif ! start_test_postgres; then
    stop_test_postgres
    echo "no Postgres (${PG_WHY:-unknown reason}): the Postgres suites will skip"
  fi
fi

step "typecheck"
npx tsc --noEmit -p .

step "lint"
npx eslint . --max-warnings 0

step "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json=test-results/vitest-unit.json

step "build"
npx next build

step "route budget: first-load client JS per route (gzip)"
# Counted in the closing line (one check); the suites below still run when a route is over.
export ROUTE_BUDGET_OK=1
node tests/support/route-budget.mjs || ROUTE_BUDGET_OK=0

step "integration tests: embedded defaults (SQLite + local key ring), built server + provider fakes"
npx vitest run --project integration --reporter=default --reporter=json --outputFile.json=test-results/vitest-integration.json

step "integration tests again: KMS_BACKEND=gcp + CREDENTIAL_STORE=bigquery (Cloud KMS gRPC fake + BigQuery REST fake)"
STACK_BACKENDS=gcp npx vitest run --project integration --reporter=default --reporter=json --outputFile.json=test-results/vitest-integration-gcp.json

step "security tests: the attack suite (docs/security.md), built server + provider fakes, embedded defaults"
npx vitest run --project security --reporter=default --reporter=json --outputFile.json=test-results/vitest-security.json

step "playwright (api + chromium)"
CI="${CI:-}" npx playwright test

node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["test-results/vitest-unit.json", "test-results/vitest-integration.json", "test-results/vitest-integration-gcp.json", "test-results/vitest-security.json"]) {
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
}
const e = JSON.parse(fs.readFileSync("test-results/e2e.json", "utf8")).stats;
passed += e.expected; failed += e.unexpected + (e.flaky || 0); skipped += e.skipped;
if (process.env.ROUTE_BUDGET_OK === "0") { failed++; console.log("route budget: over (see its step above)"); } else passed++;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
'
