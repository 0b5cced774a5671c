#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, type-checks, lints, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p . --noEmit
npx eslint src test scripts bench
npx mocha
bash scripts/test-e2e.sh
