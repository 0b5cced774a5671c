#!/usr/bin/env bash
# End-to-end tests in a real VS Code: code-server (cached install) + Debian's chromium driven by
# playwright-core. Installs what is missing, builds and packages, starts code-server on a free
# port with the .vsix installed in a fresh profile, runs test/e2e, stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
source scripts/code-server.sh

command -v /usr/bin/chromium >/dev/null 2>&1 || cs_apt chromium
cs_install
npx tsc -p webview --noEmit
npm run --silent package >/dev/null
bundle="$(npx tsx scripts/test-integration.ts bundle)"

STATE="$(mktemp -d "${TMPDIR:-/tmp}/pycom-e2e-XXXXXX")"
cleanup() {
  [ -f "$STATE/sim.log.pid" ] && kill "$(cat "$STATE/sim.log.pid")" 2>/dev/null || true
  [ -f "$STATE/code-server.pid" ] && kill "$(cat "$STATE/code-server.pid")" 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT INT TERM

rm -rf test-results; mkdir -p test-results
cs_workspace "$STATE/workspace" ""
# A virtual GPy, as npm start runs it (in the workspace settings); the suite selects it through
# "Pycom: Select Port".
export PYCOM_E2E_SIM_URL="$(cs_sim "$STATE/workspace" "$STATE/sim.log")"
cs_workspace_port "$STATE/workspace" "$PYCOM_E2E_SIM_URL"
cs_user_settings "$STATE" "$STATE/workspace"
cs_install_vsix "$REPO/dist/pycom-secure.vsix" "$STATE/extensions" "$STATE" >/dev/null 2>&1
PORT="$(cs_free_port)"
# The extension host inherits these: they enable the integration-suite test hook.
export PYCOM_SECURE_INTEGRATION_BUNDLE="$bundle"
export PYCOM_SECURE_INTEGRATION_RESULT="$STATE/integration-result.json"
cs_start "$PORT" "$STATE" "$STATE/extensions" "$STATE/workspace"
export PYCOM_E2E_URL="http://127.0.0.1:$PORT/?folder=$STATE/workspace"
start=$(date +%s)
status=0
npx mocha --config test/e2e/mocharc.json || status=$?
cp "$STATE/code-server.log" test-results/code-server.log 2>/dev/null || true
cp "$STATE/sim.log" test-results/sim.log 2>/dev/null || true
echo "e2e: $(( $(date +%s) - start )) s" >&2
exit $status
