#!/usr/bin/env bash
# Fails when regenerating the protobuf code from proto/ changes what is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
gen=packages/common/src/gen
pnpm -s exec buf lint
pnpm -s generate >/dev/null
if ! git diff --quiet -- "$gen" || [ -n "$(git ls-files --others --exclude-standard -- "$gen")" ]; then
  echo "check-generated: $gen differs from what proto/ generates; run 'pnpm generate' and commit it:" >&2
  git status --short -- "$gen" >&2
  exit 1
fi
echo "generated code is up to date"
