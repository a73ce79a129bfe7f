#!/usr/bin/env bash
# Sets up everything from nothing (scripts/setup.sh), then runs every check
# and test: generated code up to date, lint, type check, unit and lab tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "== test: generated protobuf code is up to date"
bash scripts/check-generated.sh
echo "== test: lint (biome)"
pnpm -s lint
echo "== test: type check of the tests"
pnpm -s exec tsc -p tsconfig.tests.json
echo "== test: vitest (unit specs, and lab scenarios with real QEMU and nats-server)"
mkdir -p .cache
status=0
pnpm -s exec vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json "$@" || status=$?
# One plain closing line, whatever the reporter printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(".cache/vitest-report.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`);
' || true
exit "$status"
