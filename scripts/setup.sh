#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine with Node 20. Idempotent: each
# step checks first and says in one line what it installs and why; a failing step is named.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: the step \"$1\" failed (its output is above); fix what it says and run the same command again." >&2; exit 1; }

# socat: the pty pairs the serial tests run serialport over; udev (udevadm): serialport's port
# listing reads USB ids through it.
need_apt=()
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v udevadm >/dev/null 2>&1 || need_apt+=(udev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages ${need_apt[*]} with apt-get (serial tests over ptys, USB port listing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || fail "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || fail "apt-get install ${need_apt[*]}"
  else
    echo "setup: please install these Debian packages: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

# npm ci only when the lock file changed since the last install (or none was done).
stamp=node_modules/.pycom-secure-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: installing the npm packages in package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci"
  touch "$stamp"
fi
node scripts/build.mjs || fail "build (node scripts/build.mjs)"
