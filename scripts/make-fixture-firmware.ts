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
import { boardGeneration, boardIds, layout, layouts } from '../src/core/boards/catalog';
import { GENERATIONS, type GenerationId } from '../src/core/firmware/generations';
import { encodeSec1Pem, generateSigningKey } from '../src/core/crypto/signing-key';
import { writePartitionTable } from '../src/core/partition/table';
import { secureSet, type SecureKeys } from '../src/core/secure-build/process';
import { commonMk, eraDLayouts } from './gen-catalog';

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

/** An ESP32 image as elf2image writes it (esptool docs, Firmware Image Format), with the SHA-256 appended. */
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

/** Where fixtureBootloader puts the embedded verification key: this far into its second (DRAM) segment's data. */
const KEY_IN_DRAM2 = 0x100;

/**
 * A small second-stage bootloader (IRAM/DRAM segments like IDF's) with the secure boot
 * verification key linked into its data, as IDF links signature_verification_key.bin (X‖Y, 64
 * bytes) into a secure boot bootloader; `verificationKey` defaults to the fixture signing key's.
 * The key is there twice in a row, so the image's XOR checksum is the same whatever the key:
 * the sample firmware's makefile links its own key by concatenating fixtureBootloaderAround's
 * parts with the key, no tool needed. No SHA-256 is appended (the ROM does not check one on
 * the bootloader, and a makefile could not recompute it).
 */
export function fixtureBootloader(seed = 'fixture-bootloader', verificationKey: Uint8Array = fixtureKeys().signingKey.publicKey): Uint8Array {
  if (verificationKey.length !== 64) throw new Error('a verification key is 64 bytes (X‖Y)');
  const dram2 = prng(`${seed}/dram2`, 1024);
  dram2.set(verificationKey, KEY_IN_DRAM2);
  dram2.set(verificationKey, KEY_IN_DRAM2 + 64);
  return buildImage(
    [
      { loadAddress: 0x3fff0018, data: prng(`${seed}/dram`, 4) },
      { loadAddress: 0x3fff001c, data: dram2 },
      { loadAddress: 0x40078000, data: prng(`${seed}/iram`, 4096) },
      { loadAddress: 0x40080400, data: prng(`${seed}/iram2`, 2048) },
    ],
    { entry: 0x40080764, hashAppended: false },
  );
}

/**
 * fixtureBootloader(seed) split around its two copies of the key: `head ‖ key ‖ key ‖ tail` is the
 * bootloader built with `key` (what the sample firmware's makefile concatenates).
 */
export function fixtureBootloaderAround(seed = 'fixture-bootloader'): { head: Uint8Array; tail: Uint8Array } {
  const bl = fixtureBootloader(seed);
  const at = 24 + 8 + 4 + 8 + KEY_IN_DRAM2; // header, segment 0 (4 bytes), segment 1's header
  return { head: bl.slice(0, at), tail: bl.slice(at + 128) };
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

export function fixtureKeys(): SecureKeys & { signingKeyPem: Buffer; signingKey: EcPrivateKey } {
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

/**
 * The failure lines of the real build, one per class, that a fixture Makefile prints for
 * FIXTURE_FAIL=<name> before failing the way the real one fails (tag and file of each in
 * src/core/firmware/diagnostics.ts). `make` adds its own `make: *** [...] Error N` line after.
 */
export const FIXTURE_FAILURES: Readonly<Record<string, string>> = {
  compile: "main.c:42:5: error: expected ';' before 'return'",
  nocolumn: 'mods/machuart.c:301: error: unterminated argument list invoking macro "MP_OBJ_NEW"',
  linker: "mods/modpycom.c:(.text.mod_pycom_ota_slot+0x1c): undefined reference to `updater_ota_slot'",
  collect2: 'collect2: error: ld returned 1 exit status',
  espsecure: 'A fatal error occurred: Key file contains wrong length (16 bytes), 32 expected.',
  idf: 'Incompatible IDF git hash:',
  key: "Secure boot signing key '/keys/secure_boot_signing_key.pem' missing. It can be generated using: ",
  toolchain: '/bin/sh: 1: xtensa-esp32-elf-gcc: not found',
};

/** Make text shared by every fixture Makefile: failure hooks and the timestamp-based derived keys. */
function commonRules(prep: string): string {
  const fails = Object.entries(FIXTURE_FAILURES)
    .map(([k, line]) => `ifeq ($(FIXTURE_FAIL),${k})\nFAIL_LINE = ${line.replace(/'/g, "'\\''").replace(/\$/g, '$$$$')}\nendif\n`)
    .join('');
  return `# Test hooks: FIXTURE_FAIL=<class> prints that class's real failure line and fails (compile, nocolumn,
# linker, collect2, espsecure, idf, key, toolchain); FIXTURE_FAIL=pygate and =board stop make the way
# the real Makefile's $(error) does; FIXTURE_SLOW=1 sleeps (cancellation tests).
FIXTURE_FAIL ?= 0
FIXTURE_SLOW ?= 0
PREP ?= ${prep}
${fails}ifeq ($(FIXTURE_FAIL),pygate)
$(error PYGATE variant is not supported on $(BOARD))
endif
ifeq ($(FIXTURE_FAIL),board)
$(error Invalid BOARD specified)
endif

# Derived keys, as the real application.mk makes them: rebuilt only when the signing key FILE is
# newer (timestamps, not content). prepared/derived/<cksum of the PEM>/ holds what espsecure's
# extract_public_key and digest_private_key write for the fixture keys.
KEY_SUM = $(shell cksum < "$(SECURE_KEY)" | cut -d' ' -f1)
signature_verification_key.bin: $(SECURE_KEY)
\t@echo "espsecure.py extract_public_key --keyfile $< $@"
\t@cp $(PREP)/derived/$(KEY_SUM)/signature_verification_key.bin $@
secure-bootloader-key.bin: $(SECURE_KEY)
\t@echo "espsecure.py digest_private_key --keyfile $< $@"
\t@cp $(PREP)/derived/$(KEY_SUM)/secure-bootloader-key.bin $@

.PHONY: keycheck failhook
failhook:
\t@if [ -n '$(FAIL_LINE)' ]; then echo '$(FAIL_LINE)' >&2; exit 2; fi
keycheck: failhook
\t@cmp -s "$(SECURE_KEY)" $(PREP)/../fixture-keys/secure_boot_signing_key.pem || { echo "fixture: only the fixture signing key has prepared outputs" >&2; exit 2; }
\t@cmp -s "$(ENCRYPT_KEY)" $(PREP)/../fixture-keys/flash_encryption_key.bin || { echo "fixture: only the fixture flash key has prepared outputs" >&2; exit 2; }
\t@[ ! -f secure-bootloader-key.bin ] || cmp -s secure-bootloader-key.bin $(PREP)/derived/$(FIXTURE_KEY_SUM)/secure-bootloader-key.bin || { echo "fixture: secure-bootloader-key.bin was derived from another signing key" >&2; exit 2; }
`;
}

/** One release a fixture tree imitates: its tag, version and generation. */
export interface FixtureRelease {
  /** Directory under test/fixtures/firmware/releases/ (the tag, or the tag plus what differs). */
  dir: string;
  version: string;
  generation: GenerationId;
  /** Makefile text that tells the generation apart when the version cannot (1.20.0.rc4 after the fix). */
  marker: string;
}

/** The releases imitated besides the main tree (1.20.2.r4, generation D): one per generation. */
export const FIXTURE_RELEASES: readonly FixtureRelease[] = [
  { dir: 'v1.18.2.r7', version: '1.18.2.r7', generation: 'B', marker: 'APP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1A0000' },
  { dir: 'v1.19.0.b4', version: '1.19.0.b4', generation: 'B19', marker: 'APP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1A0000 # TARGET boot_app' },
  { dir: 'v1.20.0.rc1', version: '1.20.0.rc1', generation: 'C-rc1-4', marker: 'APP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1A0000 # TARGET boot_app' },
  { dir: 'v1.20.0.rc4-fixed', version: '1.20.0.rc4', generation: 'C-rc5-11', marker: 'APP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1C0000 # TARGET boot_app' },
  { dir: 'v1.20.0.rc13', version: '1.20.0.rc13', generation: 'C-rc12-13', marker: 'PART_CSV = lib/partitions_8MB.csv # TARGET boot_app' },
  { dir: 'v1.20.3.b3', version: '1.20.3.b3', generation: 'E', marker: 'SMALL_FACTORY_FW_ENABLED ?= 1' },
];

export const FIXTURE_RELEASES_DIR = path.join(ROOT, 'test', 'fixtures', 'firmware', 'releases');

/** Every layout a fixture build may write, and every OTA copy address. */
function allLayouts(): string[] {
  return layouts().map((l) => l.id);
}
function allOtaAddresses(): number[] {
  const ids = Object.keys(GENERATIONS) as GenerationId[];
  return [...new Set(boardIds().flatMap((b) => ids.flatMap((g) => boardGeneration(b, g).otaCopies)))].sort((a, b) => a - b);
}

const hexAddr = (a: number) => `0x${a.toString(16).toUpperCase()}`;

// With boot_app (v1.19.0.b2 on): all builds $(TARGET).
const BOOT_APP_TARGETS = ['all: $(TARGET)', 'boot_app: boot app', 'boot: $(BUILD)/bootloader/bootloader.bin'].join('\n');
// Before (v1.18.2.r7 application.mk about 434-437): anything but app asks for the bootloader.
const ONLY_BOOT_OR_APP = ['ifeq ($(TARGET), app)', 'all: app', 'else', 'all: $(BUILD)/bootloader/bootloader.bin', 'endif'].join('\n');

/**
 * A fixture esp32/Makefile for a generation: the same targets (no boot_app before 1.19: any TARGET
 * but app asks for the bootloader, whose rule exists only for TARGET=boot), the same output names
 * and addresses per board, the plaintext app kept or overwritten, the derived keys by timestamp.
 */
export function releaseMakefile(gen: GenerationId, version: string, marker: string, prep: string): string {
  const g = GENERATIONS[gen];
  const boards = g.boards ?? boardIds();
  const perBoard = boards
    .map((b, i) => {
      const f = boardGeneration(b, gen);
      let tables = f.layouts.join(' ');
      if (gen === 'E') tables = f.layouts.filter((l) => l !== '8MB_small_factory_fw' && l !== '8MB_normal_factory_fw').join(' ');
      const small = gen === 'E' && f.layouts.includes('8MB_small_factory_fw');
      return `${i === 0 ? 'ifeq' : 'else ifeq'} ($(BOARD),${b})\nTABLES = ${tables}${small ? ' $(TABLE_8MB)' : ''}\nOTA_ADDRS = ${f.otaCopies.map(hexAddr).join(' ')}\n`;
    })
    .join('');
  const perLayout = g.partitionTableFile.includes('{layout}');
  const hasBootApp = g.targets.includes('boot_app');
  const tableCopy = perLayout
    ? '@for s in $(TABLES); do cp $(PREP)/partitions_$$s.bin $(BUILD)/lib/partitions_$$s.bin; cp $(PREP)/partitions_$$s.bin_enc $(BUILD)/lib/partitions_$$s.bin_enc; done'
    : '@cp $(PREP)/partitions_$(TABLES).bin $(BUILD)/lib/partitions.bin; cp $(PREP)/partitions_$(TABLES).bin_enc $(BUILD)/lib/partitions.bin_enc';
  const factory = g.factoryFile.replace('{app}', '$(APP_BIN)');
  return `# Fixture stand-in for pycom-micropython-sigfox esp32/Makefile + application.mk, ${version}
# (generation ${gen}: ${g.label}). GENERATED by scripts/make-fixture-firmware.ts: do not edit.
# It copies prepared outputs (no toolchain) but keeps the real one's targets, names, addresses and
# failures. Marker for generation detection: ${marker}
.DEFAULT_GOAL := all
BOARD ?= WIPY
TARGET ?= ${hasBootApp ? 'boot_app' : 'app'}
BTYPE ?= release
SECURE ?= off
SECURE_KEY ?= secure_boot_signing_key.pem
ENCRYPT_KEY ?= flash_encryption_key.bin
${gen === 'E' ? 'SMALL_FACTORY_FW_ENABLED ?= 1\nifeq ($(SMALL_FACTORY_FW_ENABLED),1)\nTABLE_8MB = 8MB_small_factory_fw\nelse\nTABLE_8MB = 8MB_normal_factory_fw\nendif\n' : ''}BUILD = build/$(BOARD)/$(BTYPE)
APP_BIN = $(shell echo $(BOARD) | tr A-Z a-z).bin
# As in the real tree before 1.19: ECHO is defined (py/mkenv.mk), MV is not, so \`$(MV) -f a b\` runs
# \`f a b\` with make's ignore-errors prefix: it fails, make says "(ignored)", the plaintext app stays.
ECHO = @echo
FIXTURE_KEY_SUM = $(shell cksum < $(PREP)/../fixture-keys/secure_boot_signing_key.pem | cut -d' ' -f1)

${perBoard}else
$(error Invalid BOARD specified)
endif

${commonRules(prep)}
.PHONY: all boot app${hasBootApp ? ' boot_app' : ''}
${hasBootApp ? BOOT_APP_TARGETS : ONLY_BOOT_OR_APP}

${hasBootApp ? 'ifeq ($(TARGET), $(filter $(TARGET), boot boot_app))' : 'ifeq ($(TARGET), boot)'}
$(BUILD)/bootloader/bootloader.bin: signature_verification_key.bin secure-bootloader-key.bin keycheck
\t@echo "CC bootloader/bootloader_start.c"
\t@if [ "$(FIXTURE_SLOW)" = "1" ]; then sleep 30; fi
\t@mkdir -p $(BUILD)/bootloader
\t@cp $(PREP)/bootloader-reflash-digest.bin_enc $(BUILD)/bootloader/bootloader-reflash-digest.bin_enc
\t@cp $(PREP)/bootloader-reflash-digest.bin_enc $@
\t@echo "Digest bootloader/bootloader-reflash-digest.bin_enc"
endif

app: signature_verification_key.bin keycheck
\t@echo "CC mods/modpycom.c"
\t@echo "mods/modpycom.c:118:9: warning: unused variable 'slot' [-Wunused-variable]" >&2
\t@if [ "$(FIXTURE_SLOW)" = "1" ]; then sleep 30; fi
\t@mkdir -p $(BUILD)/lib
\t${tableCopy}
\t@cp $(PREP)/app.bin $(BUILD)/$(APP_BIN)
\t@cp $(PREP)/app.bin_enc $(BUILD)/${factory}
\t@for a in $(OTA_ADDRS); do cp $(PREP)/app.bin_enc_$$a $(BUILD)/$(APP_BIN)_enc_$$a; done
${g.plainAppKept ? `\t$(ECHO) "Overwrite $(APP_BIN) with ${factory}"\n\t$(MV) -f $(BUILD)/${factory} $(BUILD)/$(APP_BIN)\n` : `\t@cp -f $(BUILD)/${factory} $(BUILD)/$(APP_BIN)\n`}\t@echo "Signed and encrypted $(APP_BIN) for 0x10000 and $(OTA_ADDRS)"
`;
}

const MAKEFILE = releaseMakefile('D', FIXTURE_VERSION, 'PART_BIN_ENCRYPT_8MB partitions_4MB partitions_8MB', 'prepared');

function write(file: string, data: Uint8Array | string, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  if (mode !== undefined) fs.chmodSync(file, mode);
}

/** A second signing key (kept once made), so tests can switch keys: derived keys must follow. */
export const OTHER_SIGNING_KEY = path.join(FIXTURE_ESP32, 'fixture-keys', 'other_signing_key.pem');

/** cksum's CRC of a file's bytes, as the fixture Makefile names prepared/derived/<crc>/. */
export function cksumOf(data: Uint8Array): number {
  let crc = 0;
  const step = (byte: number) => {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  };
  for (const b of data) step(b);
  for (let n = data.length; n > 0; n = Math.floor(n / 256)) step(n & 0xff);
  return ~crc >>> 0;
}

function writeDerived(prep: string, pem: Uint8Array): void {
  const key = parseSigningKey(pem, 'signing key');
  const dir = path.join(prep, 'derived', String(cksumOf(pem)));
  write(path.join(dir, 'signature_verification_key.bin'), key.publicKey);
  write(path.join(dir, 'secure-bootloader-key.bin'), digestPrivateKey(key, 256));
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
  if (!fs.existsSync(OTHER_SIGNING_KEY)) write(OTHER_SIGNING_KEY, encodeSec1Pem(generateSigningKey()));
  writeDerived(prep, keys.signingKeyPem);
  writeDerived(prep, fs.readFileSync(OTHER_SIGNING_KEY));
  const bootloader = fixtureBootloader();
  const app = fixtureApp(FIXTURE_APP_SIZE);
  write(path.join(prep, 'bootloader.bin'), bootloader);
  const around = fixtureBootloaderAround();
  write(path.join(prep, 'bootloader-head.bin'), around.head);
  write(path.join(prep, 'bootloader-tail.bin'), around.tail);
  let first = true;
  for (const id of allLayouts()) {
    const csv = formatPartitionCsv(layout(id).entries);
    if (eraDLayouts().includes(id)) write(path.join(FIXTURE_ESP32, 'lib', `partitions_${id}.csv`), csv);
    const table = writePartitionTable(parsePartitionCsv(csv, `partitions_${id}.csv`));
    const set = secureSet({ bootloader, partitionTable: table, app, iv: FIXTURE_IV }, keys, allOtaAddresses());
    write(path.join(prep, `partitions_${id}.bin`), set.signedPartitionTable);
    write(path.join(prep, `partitions_${id}.bin_enc`), set.partitionTable);
    if (first) {
      write(path.join(prep, 'bootloader-reflash-digest.bin_enc'), set.digest);
      write(path.join(prep, 'app.bin'), set.signedApp);
      write(path.join(prep, 'app.bin_enc'), set.app);
      for (const [a, data] of set.otaCopies) write(path.join(prep, `app.bin_enc_${hexAddr(a)}`), data);
      first = false;
    }
  }
  write(path.join(FIXTURE_ESP32, '.gitignore'), '/build/\n/signature_verification_key.bin\n/secure-bootloader-key.bin\n');
  fs.rmSync(FIXTURE_RELEASES_DIR, { recursive: true, force: true });
  for (const r of FIXTURE_RELEASES) {
    const esp32 = path.join(FIXTURE_RELEASES_DIR, r.dir, 'esp32');
    write(path.join(esp32, 'Makefile'), releaseMakefile(r.generation, r.version, r.marker, '../../../pycom-micropython-sigfox/esp32/prepared'));
    write(path.join(esp32, 'application.mk'), `# Fixture: the secure steps are in Makefile. ${r.marker}\n`);
    write(path.join(esp32, 'pycom_version.h'), `#ifndef VERSION_H_\n#define VERSION_H_\n#define SW_VERSION_NUMBER "${r.version}"\n#endif\n`);
    const g = GENERATIONS[r.generation];
    const ids = [...new Set((g.boards ?? boardIds()).flatMap((b) => boardGeneration(b, r.generation).layouts))];
    for (const id of ids) {
      const name = g.partitionTableFile.includes('{layout}') ? `partitions_${id}.csv` : id === '1.18' ? 'partitions.csv' : `partitions_${id}.csv`;
      write(path.join(esp32, 'lib', name), formatPartitionCsv(layout(id).entries));
    }
    for (const f of ['secure_boot_signing_key.pem', 'flash_encryption_key.bin']) write(path.join(esp32, f), f.endsWith('.pem') ? keys.signingKeyPem : keys.flashKey);
    write(path.join(esp32, '.gitignore'), '/build/\n/signature_verification_key.bin\n/secure-bootloader-key.bin\n');
  }
  write(path.join(FIXTURE_TOOLCHAIN_BIN, 'xtensa-esp32-elf-gcc'), '#!/bin/sh\n# Fixture stand-in: the build runner only checks that the toolchain is on PATH.\necho "xtensa-esp32-elf-gcc (crosstool-NG fixture) 5.2.0"\n', 0o755);
  write(path.join(FIXTURE_IDF, 'README.md'), 'Fixture stand-in for IDF_PATH (pycom-esp-idf); the fixture Makefile does not use it.\n');
}

if (require.main === module) {
  generateFixtureTree();
  process.stdout.write(`Fixture firmware tree written to ${path.relative(ROOT, FIXTURE_TREE)}\n`);
}
