#!/usr/bin/env bash
# `npm run sample-firmware -- DIR`: a sample Pycom firmware tree in DIR that builds with YOUR keys,
# for rehearsing the CLI path (keys -> burn-keys -> build -> flash -> predict-boot) on a virtual
# board. It is the tree `npm start` opens in the editor: Pycom's esp32/ layout (1.20.2.r4), whose
# makefile does what the real one does with espsecure.py (digest the bootloader, sign and encrypt
# the table and the app) through pycom-secure, so no Xtensa toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
dir="${1:-}"
if [ -z "$dir" ]; then
  echo "sample-firmware: give the folder to create, e.g. npm run sample-firmware -- ~/pycom-rehearsal" >&2
  exit 2
fi
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  echo "sample-firmware: $dir exists and is not empty; give a new folder (nothing was changed)." >&2
  exit 2
fi
source scripts/code-server.sh
bash scripts/setup.sh >/dev/null
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cs_workspace "$dir" ""
rm -rf "$dir/.vscode"
fw="$dir/firmware/pycom-micropython-sigfox/esp32"
cat <<TXT
Sample firmware in $dir (keys go to $dir/secure, ignored by the .gitignore there).
Rehearse the whole path on a virtual GPy (pycom-secure is node $REPO/bin/pycom-secure.js):

  cd $dir
  pycom-secure sim serve --port 0 --state .pycom/board.json &   # prints: listening on 127.0.0.1:PORT (the state file is the board: it holds its eFuses, keys included)
  pycom-secure generate-signing-key secure/secure_boot_signing_key.pem
  pycom-secure generate-flash-encryption-key secure/flash_encryption_key.bin
  pycom-secure efuse burn-keys --port socket://127.0.0.1:PORT --flash-key secure/flash_encryption_key.bin --signing-key secure/secure_boot_signing_key.pem
  PATH=$dir/firmware/toolchain/bin:\$PATH IDF_PATH=$dir/firmware/esp-idf pycom-secure build --board GPY --project $fw
  pycom-secure flash --port socket://127.0.0.1:PORT --build $fw/build/GPY/release
  pycom-secure predict-boot --port socket://127.0.0.1:PORT
  pycom-secure monitor --port socket://127.0.0.1:PORT
  pycom-secure ota-image --board GPY --build $fw/build/GPY/release --port socket://127.0.0.1:PORT --output gpy-ota.bin
TXT
