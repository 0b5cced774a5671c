/**
 * Generates the fixture firmware tree test/fixtures/firmware/pycom-micropython-sigfox: a stand-in
 * for Pycom's checkout whose esp32/Makefile produces the same secure build outputs (Era D names)
 * from prepared inputs with plain make and cp, so the build runner and everything downstream can
 * be tested without Pycom's toolchain. The prepared images are structurally valid ESP32 images
 * (header, segments, checksum, SHA-256), signed and encrypted with the fixture keys.
 *
 * Run: npx tsx scripts/make-fixture-firmware.ts   (re-running gives byte-identical output)
 * The exported helpers also give the bench its 1.9 MB app and the tests their images.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { digestPrivateKey } from '../src/core/crypto/secure-boot-key';
import { parseSigningKey, type EcPrivateKey } from '../src/core/crypto/signing-key';
import { formatPartitionCsv, parsePartitionCsv } from '../src/core/partition/csv';
import { layout } from '../src/core/boards/catalog';
import { writePartitionTable } from '../src/core/partition/table';
import { secureSet, type SecureKeys } from '../src/core/secure-build/process';
import { commonMk, eraDLayouts, eraDOtaCopies } from './gen-catalog';

const ROOT = path.join(__dirname, '..');
export const FIXTURE_TREE = path.join(ROOT, 'test', 'fixtures', 'firmware', 'pycom-micropython-sigfox');
export const FIXTURE_ESP32 = path.join(FIXTURE_TREE, 'esp32');
export const FIXTURE_TOOLCHAIN_BIN = path.join(ROOT, 'test', 'fixtures', 'firmware', 'toolchain', 'bin');
export const FIXTURE_IDF = path.join(ROOT, 'test', 'fixtures', 'firmware', 'esp-idf');
const VECTORS = path.join(ROOT, 'test', 'fixtures', 'vectors', 'inputs');
export const FIXTURE_VERSION = '1.20.2.r4';
/** Keep the repository small: the bench makes its 1.9 MB app at run time. */
export const FIXTURE_APP_SIZE = 24 * 1024;

/** Deterministic bytes: SHA-256 in counter mode over a seed (same idea as the vector set's prng). */
export function prng(seed: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, off = 0; off < n; i++) {
    const block = createHash('sha256').update(seed).update(Uint8Array.of(i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255)).digest();
    out.set(block.subarray(0, Math.min(32, n - off)), off);
    off += 32;
  }
  return out;
}

export interface SegmentSpec {
  loadAddress: number;
  data: Uint8Array;
}

/** An ESP32 image as elf2image writes it (esp32-rom-protocol.md §8.1), with the SHA-256 appended. */
export function buildImage(segments: readonly SegmentSpec[], opts: { entry: number; flashSizeNibble?: number; hashAppended?: boolean }): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(24);
  header[0] = 0xe9;
  header[1] = segments.length;
  header[2] = 2; // DIO, as Pycom's makefile passes
  header[3] = ((opts.flashSizeNibble ?? 2) << 4) | 0xf; // size nibble, 80 MHz
  new DataView(header.buffer).setUint32(4, opts.entry, true);
  header[8] = 0xee;
  header[17] = 0xff;
  header[18] = 0xff;
  header[23] = opts.hashAppended ?? true ? 1 : 0;
  parts.push(header);
  let len = 24;
  let checksum = 0xef;
  for (const s of segments) {
    const padded = new Uint8Array(Math.ceil(s.data.length / 4) * 4);
    padded.set(s.data);
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, s.loadAddress, true);
    new DataView(h.buffer).setUint32(4, padded.length, true);
    parts.push(h, padded);
    for (const b of padded) checksum ^= b;
    len += 8 + padded.length;
  }
  const pad = (15 - (len % 16)) % 16;
  const tail = new Uint8Array(pad + 1);
  tail[pad] = checksum;
  parts.push(tail);
  len += pad + 1;
  const body = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    body.set(p, off);
    off += p.length;
  }
  if (!(opts.hashAppended ?? true)) return body;
  const out = new Uint8Array(len + 32);
  out.set(body);
  out.set(createHash('sha256').update(body).digest(), len);
  return out;
}

/** A small second-stage bootloader (IRAM/DRAM segments like IDF's). */
export function fixtureBootloader(seed = 'fixture-bootloader'): Uint8Array {
  return buildImage(
    [
      { loadAddress: 0x3fff0018, data: prng(`${seed}/dram`, 4) },
      { loadAddress: 0x3fff001c, data: prng(`${seed}/dram2`, 1024) },
      { loadAddress: 0x40078000, data: prng(`${seed}/iram`, 4096) },
      { loadAddress: 0x40080400, data: prng(`${seed}/iram2`, 2048) },
    ],
    { entry: 0x40080764 },
  );
}

/** An app of about `size` bytes, split over the usual DROM/DRAM/IRAM/IROM segments. */
export function fixtureApp(size: number, seed = 'fixture-app', flashSizeNibble = 3): Uint8Array {
  const body = Math.max(256, size - 24 - 4 * 8 - 48);
  const q = Math.floor(body / 8) * 2;
  return buildImage(
    [
      { loadAddress: 0x3f400020, data: prng(`${seed}/drom`, q) },
      { loadAddress: 0x3ffb0000, data: prng(`${seed}/dram`, 512) },
      { loadAddress: 0x40080000, data: prng(`${seed}/iram`, 1024) },
      { loadAddress: 0x400d0018, data: prng(`${seed}/irom`, Math.max(4, body - q - 1536)) },
    ],
    { entry: 0x40081000, flashSizeNibble },
  );
}

export function fixtureKeys(): SecureKeys & { signingKeyPem: Buffer } {
  const signingKeyPem = fs.readFileSync(path.join(VECTORS, 'signing_key.pem'));
  const signingKey: EcPrivateKey = parseSigningKey(signingKeyPem, 'signing_key.pem');
  return {
    signingKeyPem,
    signingKey,
    flashKey: new Uint8Array(fs.readFileSync(path.join(VECTORS, 'flash_key_256.bin'))),
    secureBootKey: digestPrivateKey(signingKey, 256),
    flashCryptConf: 0xf,
  };
}

/** Fixed IV, so regenerating the fixture is reproducible (any IV is valid: it is stored in the output). */
export const FIXTURE_IV = prng('fixture-iv', 128);

const MAKEFILE = `# Fixture stand-in for pycom-micropython-sigfox esp32/Makefile (Era D, ${FIXTURE_VERSION}).
# It makes the same secure build outputs as the real one (build/<BOARD>/release/...) by copying
# prepared inputs (generated by scripts/make-fixture-firmware.ts); no toolchain is involved.
# The real makefile runs elf2image, gen_esp32part (partitions_4MB.csv, partitions_8MB.csv),
# espsecure sign_data/encrypt_flash_data and tools/makepkg.sh (_ENC tarball); see docs.
# Test hooks: FIXTURE_FAIL=1 ends with a compiler error, FIXTURE_SLOW=1 sleeps (cancellation tests).
FIXTURE_FAIL ?= 0
FIXTURE_SLOW ?= 0
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

.PHONY: all boot app boot_app keycheck
all: $(TARGET)
boot_app: boot app

keycheck:
\t@cmp -s "$(SECURE_KEY)" fixture-keys/secure_boot_signing_key.pem || { echo "fixture: only the fixture signing key has prepared outputs" >&2; exit 2; }
\t@cmp -s "$(ENCRYPT_KEY)" fixture-keys/flash_encryption_key.bin || { echo "fixture: only the fixture flash key has prepared outputs" >&2; exit 2; }

boot: keycheck
\t@echo "CC bootloader/bootloader_start.c"
\t@if [ "$(FIXTURE_SLOW)" = "1" ]; then sleep 30; fi
\t@mkdir -p $(BUILD)/bootloader
\t@echo "Digest bootloader/bootloader-reflash-digest.bin_enc"
\t@cp $(PREP)/bootloader-reflash-digest.bin_enc $(BUILD)/bootloader/bootloader-reflash-digest.bin_enc
\t@cp $(PREP)/bootloader-reflash-digest.bin_enc $(BUILD)/bootloader/bootloader.bin

app: keycheck
\t@echo "CC mods/modpycom.c"
\t@echo "mods/modpycom.c:118:9: warning: unused variable 'slot' [-Wunused-variable]" >&2
\t@if [ "$(FIXTURE_FAIL)" = "1" ]; then echo "main.c:42:5: error: expected ';' before 'return'" >&2; exit 2; fi
\t@if [ "$(FIXTURE_SLOW)" = "1" ]; then sleep 30; fi
\t@mkdir -p $(BUILD)/lib
\t@for s in $(PARTITION_LAYOUTS); do cp $(PREP)/partitions_$$s.bin $(BUILD)/lib/partitions_$$s.bin; cp $(PREP)/partitions_$$s.bin_enc $(BUILD)/lib/partitions_$$s.bin_enc; done
\t@cp $(PREP)/app.bin_enc $(BUILD)/$(APP_BIN)_enc
\t@for a in $(OTA_ADDRS); do cp $(PREP)/app.bin_enc_$$a $(BUILD)/$(APP_BIN)_enc_$$a; done
\t@cp $(BUILD)/$(APP_BIN)_enc $(BUILD)/$(APP_BIN)
\t@echo "Signed and encrypted $(APP_BIN) for 0x10000 and $(OTA_ADDRS)"
`;

function write(file: string, data: Uint8Array | string, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  if (mode !== undefined) fs.chmodSync(file, mode);
}

export function generateFixtureTree(): void {
  const keys = fixtureKeys();
  const prep = path.join(FIXTURE_ESP32, 'prepared');
  fs.rmSync(prep, { recursive: true, force: true });
  write(path.join(FIXTURE_ESP32, 'Makefile'), MAKEFILE);
  write(path.join(FIXTURE_ESP32, 'common.mk'), commonMk());
  write(path.join(FIXTURE_ESP32, 'application.mk'), '# Fixture: the real application.mk lists the sources; the secure steps are in Makefile.\n');
  write(path.join(FIXTURE_ESP32, 'pycom_version.h'), `#ifndef VERSION_H_\n#define VERSION_H_\n#define SW_VERSION_NUMBER "${FIXTURE_VERSION}"\n#endif\n`);
  for (const f of ['secure_boot_signing_key.pem', 'flash_encryption_key.bin']) {
    const src = f.endsWith('.pem') ? keys.signingKeyPem : keys.flashKey;
    write(path.join(FIXTURE_ESP32, f), src);
    write(path.join(FIXTURE_ESP32, 'fixture-keys', f), src);
  }
  const bootloader = fixtureBootloader();
  const app = fixtureApp(FIXTURE_APP_SIZE);
  write(path.join(prep, 'bootloader.bin'), bootloader);
  let first = true;
  for (const id of eraDLayouts()) {
    const csv = formatPartitionCsv(layout(id).entries);
    write(path.join(FIXTURE_ESP32, 'lib', `partitions_${id}.csv`), csv);
    const table = writePartitionTable(parsePartitionCsv(csv, `partitions_${id}.csv`));
    const set = secureSet({ bootloader, partitionTable: table, app, iv: FIXTURE_IV }, keys, eraDOtaCopies());
    write(path.join(prep, `partitions_${id}.bin`), set.signedPartitionTable);
    write(path.join(prep, `partitions_${id}.bin_enc`), set.partitionTable);
    if (first) {
      write(path.join(prep, 'bootloader-reflash-digest.bin_enc'), set.digest);
      write(path.join(prep, 'app.bin'), set.signedApp);
      write(path.join(prep, 'app.bin_enc'), set.app);
      for (const [a, data] of set.otaCopies) write(path.join(prep, `app.bin_enc_0x${a.toString(16).toUpperCase()}`), data);
      first = false;
    }
  }
  write(path.join(FIXTURE_ESP32, '.gitignore'), 'build/\n');
  write(path.join(FIXTURE_TOOLCHAIN_BIN, 'xtensa-esp32-elf-gcc'), '#!/bin/sh\n# Fixture stand-in: the build runner only checks that the toolchain is on PATH.\necho "xtensa-esp32-elf-gcc (crosstool-NG fixture) 5.2.0"\n', 0o755);
  write(path.join(FIXTURE_IDF, 'README.md'), 'Fixture stand-in for IDF_PATH (pycom-esp-idf); the fixture Makefile does not use it.\n');
}

if (require.main === module) {
  generateFixtureTree();
  process.stdout.write(`Fixture firmware tree written to ${path.relative(ROOT, FIXTURE_TREE)}\n`);
}
