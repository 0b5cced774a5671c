#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine with Node 20. Idempotent: each
# step checks first and says in one line what it installs and why; a failing step is named.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "setup: the step \"$1\" failed (its output is above); fix what it says and run the same command again." >&2; exit 1; }

# socat: the pty pairs the serial tests run serialport over; udev (udevadm): serialport's port
# listing reads USB ids through it; softhsm2: the PKCS#11 token the signing-key-in-a-token tests
# make (each in its own temporary folder).
need_apt=()
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v udevadm >/dev/null 2>&1 || need_apt+=(udev)
{ command -v softhsm2-util >/dev/null 2>&1 && [ -f /usr/lib/softhsm/libsofthsm2.so ]; } || need_apt+=(softhsm2)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages ${need_apt[*]} with apt-get (serial tests over ptys, USB port listing, SoftHSM2 token)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || fail "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || fail "apt-get install ${need_apt[*]}"
  else
    echo "setup: please install these Debian packages: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

# pkcs11js (optional, native) is compiled by node-gyp at install. With Debian's/nodesource's Node the
# headers are in /usr/include/node: point node-gyp there, so it never tries to download them
# (only the npm registry may be reachable). Elsewhere node-gyp finds its own.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_version.h ]; then
  hdr="$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION/ {printf "%s.", $3}' /usr/include/node/node_version.h)"
  if [ "v${hdr%.}" = "$(node -v)" ]; then export npm_config_nodedir=/usr; fi
fi

# npm ci only when the lock file changed since the last install (or none was done).
stamp=node_modules/.pycom-secure-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: installing the npm packages in package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci"
  touch "$stamp"
fi

# The token tests need the binding built; an optional dependency fails quietly, so check it here.
if ! node -e "require('pkcs11js')" >/dev/null 2>&1; then
  echo "setup: building the PKCS#11 binding pkcs11js (node-gyp; needs g++ and make)"
  if [ -d node_modules/pkcs11js ]; then
    npm rebuild pkcs11js --no-audit --no-fund --loglevel=error >/dev/null || fail "build pkcs11js (npm rebuild pkcs11js)"
  else
    # npm ci drops an optional package whose build failed, silently (seen once on a loaded
    # machine): fetch and build it again, the locked version, twice at most, its output shown.
    v="$(node -p "require('./package-lock.json').packages['node_modules/pkcs11js'].version")"
    npm install --no-save --no-audit --no-fund --loglevel=error "pkcs11js@$v" \
      || npm install --no-save --no-audit --no-fund --loglevel=error --foreground-scripts "pkcs11js@$v" \
      || fail "install pkcs11js@$v (npm install --no-save pkcs11js@$v)"
  fi
  node -e "require('pkcs11js')" || fail "load pkcs11js"
fi
node scripts/build.mjs || fail "build (node scripts/build.mjs)"
