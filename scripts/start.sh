#!/usr/bin/env bash
# `npm start`: build and package the extension, install it into a fresh code-server (a real
# VS Code in the browser), open a sample firmware workspace with a virtual GPy selected as its
# port, print the URL. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PORT="${PORT:-8080}"
STATE="${PYCOM_SECURE_STATE:-${TMPDIR:-/tmp}/pycom-secure-start}"
source scripts/code-server.sh

bash scripts/setup.sh
mkdir -p "$STATE"
# vsce lists every packaged file: kept in a log file, not on the terminal.
echo "start: packaging the extension (dist/pycom-secure.vsix; file list in $STATE/package.log)"
npm run --silent package >"$STATE/package.log" 2>&1 || { cat "$STATE/package.log" >&2; echo "start: the step \"package the extension\" failed (output above)." >&2; exit 1; }
cs_install

cleanup() {
  [ -f "$STATE/sim.log.pid" ] && kill "$(cat "$STATE/sim.log.pid")" 2>/dev/null || true
  [ -f "$STATE/code-server.pid" ] && kill "$(cat "$STATE/code-server.pid")" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The workspace (and the virtual GPy's state file in it, so burned eFuses persist across
# restarts of the board) is made once; delete $STATE/workspace for a factory-fresh start.
mkdir -p "$STATE"
if [ ! -d "$STATE/workspace/firmware" ]; then cs_workspace "$STATE/workspace" ""; fi
port_url="$(cs_sim "$STATE/workspace" "$STATE/sim.log")"
echo "start: virtual GPy on $port_url (state: $STATE/workspace/.pycom/virtual-gpy.json)"
cs_workspace_port "$STATE/workspace" "$port_url"
cs_install_vsix "$REPO/dist/pycom-secure.vsix" "$STATE/extensions" "$STATE"
cs_user_settings "$STATE" "$STATE/workspace"
cs_start "$PORT" "$STATE" "$STATE/extensions" "$STATE/workspace"
echo
echo "Pycom Secure in VS Code: http://127.0.0.1:$PORT/?folder=$STATE/workspace"
echo "(Ctrl-C stops code-server and the virtual GPy)"
wait "$(cat "$STATE/code-server.pid")"
