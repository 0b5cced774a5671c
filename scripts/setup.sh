#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine with Node 20. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v udevadm >/dev/null 2>&1 || need_apt+=(udev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.pycom-secure-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node scripts/build.mjs
