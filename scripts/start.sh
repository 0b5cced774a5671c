#!/usr/bin/env bash
# `npm start`: build and package the extension, install it into a fresh code-server (a real
# VS Code in the browser), open a sample firmware workspace with a virtual GPy, print the URL.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PORT="${PORT:-8080}"
STATE="${PYCOM_SECURE_STATE:-${TMPDIR:-/tmp}/pycom-secure-start}"
source scripts/code-server.sh

bash scripts/setup.sh
npm run --silent package
cs_install

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$STATE/code-server.pid" ] && kill "$(cat "$STATE/code-server.pid")" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

rm -rf "$STATE"; mkdir -p "$STATE"
port_url=""
if cs_has_sim "$REPO"; then
  SIM_PORT="$(cs_free_port)"
  node "$REPO/dist/cli.js" sim serve --board gpy --port "$SIM_PORT" >"$STATE/sim.log" 2>&1 &
  pids+=($!)
  port_url="socket://127.0.0.1:$SIM_PORT"
  echo "start: virtual GPy on $port_url"
else
  echo "start: \`pycom-secure sim serve\` is not in this build yet: no virtual GPy, the workspace has no port set."
fi
cs_workspace "$STATE/workspace" "$port_url"
cs_install_vsix "$REPO/dist/pycom-secure.vsix" "$STATE/extensions" "$STATE"
cs_start "$PORT" "$STATE" "$STATE/extensions" "$STATE/workspace"
echo
echo "Pycom Secure in VS Code: http://127.0.0.1:$PORT/?folder=$STATE/workspace"
echo "(Ctrl-C stops code-server${port_url:+ and the virtual GPy})"
wait "$(cat "$STATE/code-server.pid")"
