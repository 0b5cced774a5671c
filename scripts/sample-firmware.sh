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
# The rehearsal printed at the end is the README's quick path, taken from README.md (one place):
# the commands of its shell block after `npm run sample-firmware -- DIR`, with DIR made this folder.
readme_dir="$(sed -n 's/^npm run sample-firmware -- \([^ ]*\).*/\1/p' README.md | head -n 1)"
steps="$(awk '/^```sh$/ { inblock = 1; next } /^```$/ { if (found) exit; inblock = 0; next } inblock && found { print } inblock && /^npm run sample-firmware -- / { found = 1 }' README.md)"
if [ -z "$readme_dir" ] || [ -z "$steps" ]; then
  echo "sample-firmware: README.md has no quick path after \`npm run sample-firmware -- DIR\` to print; restore its \"The command line: a quick path\" block (nothing was changed)." >&2
  exit 1
fi
source scripts/code-server.sh
bash scripts/setup.sh >/dev/null
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cs_workspace "$dir" ""
rm -rf "$dir/.vscode"
steps="${steps//"$readme_dir"/"$dir"}"
steps="  ${steps//$'\n'/$'\n'  }"
cat <<TXT
Sample firmware in $dir (keys go to $dir/secure, ignored by the .gitignore there).
Rehearse the whole path on a virtual GPy, the README's quick path (pycom-secure is node $REPO/bin/pycom-secure.js,
or on PATH after npm link; PORT is the port sim serve prints, MAC the board's MAC as the dry run's plan shows it):

$steps
TXT
