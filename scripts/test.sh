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
echo "== test: vitest (unit, then lab scenarios with real QEMU, nats-server)"
pnpm -s exec vitest run "$@"
