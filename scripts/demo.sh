#!/usr/bin/env bash
# The CLI walk-through: every secure-boot v1 / flash-encryption step on a sample image,
# in a fresh folder, with nothing but pycom-secure. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cli="node $(pwd)/bin/pycom-secure.js"
samples="$(pwd)/test/fixtures/vectors/inputs"
work="${1:-$(mktemp -d -t pycom-secure-demo.XXXXXX)}"
mkdir -p "$work/secure"
cd "$work"
step() { printf '\n\033[1m$ pycom-secure %s\033[0m\n' "$*"; $cli "$@"; }

echo "Working in $work (keys go to $work/secure, mode 0600, never overwritten)."
step generate-flash-encryption-key secure/flash_encryption_key.bin
step generate-signing-key secure/secure_boot_signing_key.pem
step digest-private-key --keyfile secure/secure_boot_signing_key.pem secure/secure-bootloader-key.bin
step extract-public-key --keyfile secure/secure_boot_signing_key.pem signature_verification_key.bin
step digest-secure-bootloader --keyfile secure/secure-bootloader-key.bin --output bootloader-reflash-digest.bin "$samples/bootloader_a.bin"
cp "$samples/partition_table_like_3072.bin" partitions.bin
step sign-data --keyfile secure/secure_boot_signing_key.pem --output partitions.signed.bin partitions.bin
step sign-data --keyfile secure/secure_boot_signing_key.pem --output app.signed.bin "$samples/img_65636.bin"
step verify-signature --keyfile signature_verification_key.bin app.signed.bin
step encrypt-flash-data --keyfile secure/flash_encryption_key.bin --address 0x0 --output bootloader-reflash-digest.enc.bin bootloader-reflash-digest.bin
step encrypt-flash-data --keyfile secure/flash_encryption_key.bin --address 0x8000 --output partitions.enc.bin partitions.signed.bin
step encrypt-flash-data --keyfile secure/flash_encryption_key.bin --address 0x10000 --output app.enc.bin app.signed.bin
step decrypt-flash-data --keyfile secure/flash_encryption_key.bin --address 0x10000 --output app.dec.bin app.enc.bin
cmp -n "$(stat -c %s app.signed.bin)" app.dec.bin app.signed.bin && echo "decrypt(encrypt(app)) matches the signed app."
step image-info "$samples/bootloader_a.bin"
printf '\nFiles to flash (each encrypted for its own address):\n'
ls -l bootloader-reflash-digest.enc.bin partitions.enc.bin app.enc.bin
echo "Key files (0600; their fingerprints were printed when they were made):"
ls -l secure/ && $cli --help >/dev/null
echo
echo "Everything, keys included, is in $work: delete it when you are done (rm -r $work)."
