#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, type-checks, lints, runs every
# test (unit, integration, vectors, campaigns' short versions, a fresh-machine install, end-to-end
# in a real VS Code), and
# closes with one plain "N passed, M failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p . --noEmit
npx eslint src test scripts bench

log="$(mktemp "${TMPDIR:-/tmp}/pycom-secure-test.XXXXXX")"
trap 'rm -f "$log"' EXIT
status=0
npx mocha 2>&1 | tee -a "$log" || status=1
# A fresh machine: setup and the code-server install from an empty HOME with npm 10 / Node 20's
# environment (about 3 minutes: code-server is downloaded again into that HOME).
npx mocha --config test/fresh/mocharc.json 2>&1 | tee -a "$log" || status=1
bash scripts/test-e2e.sh 2>&1 | tee -a "$log" || status=1

count() { { grep -Eo "^ *[0-9]+ $1" "$log" || true; } | awk '{s += $1} END {print s + 0}'; }
passed="$(count passing)"
failed="$(count failing)"
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
  echo "A test stage failed before its tests could report (see above)." >&2
  failed=1
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
