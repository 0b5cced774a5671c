/**
 * The generations of pycom-micropython-sigfox's secure build, as data: one row per range of
 * releases where the secure build behaves differently (targets, file names, tables, OTA copy
 * addresses, what survives as plaintext, how the derived keys are made). Every fact cites the tag
 * and file it was read from (Pycom's repository, read with `git show TAG:esp32/...`); the per-board
 * tables and OTA copies are in the board catalog. Everything that picks a file, an address or a
 * make target reads it from here.
 *
 * Facts common to every released generation (v1.17.2.b1 .. v1.20.3.b3 esp32/application.mk):
 *  - the derived keys `esp32/signature_verification_key.bin` (espsecure extract_public_key) and
 *    `esp32/secure-bootloader-key.bin` (espsecure digest_private_key) are make targets that depend on
 *    the signing key file by timestamp only (v1.18.2.r7 application.mk about 462-472, v1.20.2.r4
 *    about 668-678): an older key file never rebuilds them. The build runner removes stale ones.
 *  - the encrypted outputs depend on the flash key file by timestamp too (`$(ORIG_ENCRYPT_KEY)`).
 *  - `make flash` (SECURE=on) writes 0x0 bootloader-reflash-digest.bin_enc, 0x8000 the encrypted
 *    table and 0x10000 the encrypted app (v1.18.2.r7 about 630, v1.20.2.r4 about 838-844: the 8MB
 *    table for FIPY/GPY/LOPY4, the 4MB one otherwise).
 */
import { hex } from '../util/hex';

export type GenerationId = 'A' | 'B' | 'B19' | 'C-rc1-4' | 'C-rc5-11' | 'C-rc12-13' | 'D' | 'E';

export interface PartitionTableOutput {
  /** Path of the encrypted table relative to the build dir; the plain one is the same without `_enc`. */
  file: string;
  /** Partition layout id in the board catalog (`4MB`). */
  layout: string;
}

/** A make TARGET value (`TARGET=boot`). */
export type MakeTarget = 'boot' | 'app' | 'boot_app';

export interface Generation {
  id: GenerationId;
  label: string;
  versions: string;
  /** Era A needed ENCRYPT=on besides SECURE=on; later SECURE=on implies encryption. */
  needsEncryptFlag: boolean;
  /**
   * TARGET values the makefile has. Before v1.19.0.b2 only `boot` and `app`: any other value
   * builds `$(BOOT_BIN)`, whose rule exists only under `ifeq ($(TARGET), boot)` (v1.18.2.r7
   * application.mk about 434-437, 491), so `TARGET=boot_app` fails with "No rule to make target".
   */
  targets: readonly MakeTarget[];
  /** Encrypted table file relative to the build dir, `{layout}` = the layout id; which layouts a board gets is in the board catalog. */
  partitionTableFile: string;
  /** The encrypted factory image (flashed at 0x10000), `{app}` = the board's app bin name. */
  factoryFile: string;
  /**
   * Whether the signed plaintext `<app>.bin` survives. Up to 1.18 the recipe is `$(MV) -f ...` with
   * MV undefined (py/mkenv.mk defines CP, not MV), so the line expands to `-f <enc> <app>.bin`: make
   * takes the `-` as its ignore-errors prefix, `f` is not found, make reports "Error 127 (ignored)"
   * and the plaintext stays (v1.18.2.r7 application.mk about 594). From v1.19.0.b2 it is `$(CP) -f <app>.bin_enc
   * <app>.bin` (v1.19.0.b2 about 601, v1.20.0.rc1 about 634, v1.20.2.r4 about 819): ciphertext.
   */
  plainAppKept: boolean;
  /** BOARD values the makefile accepts (`boards/<BOARD>/` exists): SIPY is gone in v1.20.3.b3. Undefined: every catalog board. */
  boards?: readonly string[];
  /** make variables pycom-secure passes for a build that works (see E), with why, said to the user. */
  fixedVars?: Readonly<Record<string, string>>;
  fixedVarsReason?: string;
  /** Known defects users hit with this generation, shown when it is detected. */
  knownIssues: readonly string[];
}

export const GENERATIONS: Readonly<Record<GenerationId, Generation>> = {
  A: {
    id: 'A',
    label: 'development line Feb-Mar 2018 (SECURE=on plus ENCRYPT=on)',
    versions: '0ec6e5bd6…dbeed26fc (never released)',
    needsEncryptFlag: true,
    // UNCONFIRMED: targets and output names of this short-lived line; assumed equal to Era B's (the conservative choice: boot then app).
    targets: ['boot', 'app'],
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: ['This development snapshot was never released; ENCRYPT=on is needed besides SECURE=on.'],
  },
  B: {
    id: 'B',
    label: '1.17.2.b1 - 1.18.3 (the "SecureBoot and Encryption" guide)',
    versions: '1.17.2.b1 … 1.18.3',
    needsEncryptFlag: false,
    // v1.17.2.b1 .. v1.18.3 Makefile `TARGET ?= app`; application.mk `ifeq ($(TARGET), app) all: $(APP_BIN) else all: $(BOOT_BIN)`.
    targets: ['boot', 'app'],
    // v1.18.2.r7 application.mk about 395-399: lib/partitions.csv, partitions.bin_enc, <app>_enc_0x10000, <app>_enc_0x1A0000.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: [],
  },
  B19: {
    id: 'B19',
    label: '1.19.0.b2 - 1.19.0.b4 (beta line)',
    versions: '1.19.0.b2 … 1.19.0.b4',
    needsEncryptFlag: false,
    // v1.19.0.b2 Makefile `TARGET ?= boot_app`; application.mk about 439-447 (boot, app, boot_app).
    targets: ['boot', 'app', 'boot_app'],
    // v1.19.0.b2 application.mk about 400-404: same names and 1.18 layout (lib/partitions.csv, ota_0 0x1a0000) as 1.18.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: false,
    knownIssues: [],
  },
  'C-rc1-4': {
    id: 'C-rc1-4',
    label: '1.20.0.rc0 - rc4',
    versions: '1.20.0.rc0 … 1.20.0.rc4',
    needsEncryptFlag: false,
    targets: ['boot', 'app', 'boot_app'],
    // v1.20.0.rc1 application.mk about 420-424 (APP_BIN_ENCRYPT_2 = _enc_0x1A0000) with lib/partitions.csv ota_0 at 0x1c0000.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: false,
    knownIssues: ['1.20.0.rc0-rc4 encrypt the OTA copy for 0x1A0000 while the OTA slot is at 0x1C0000: that file can never boot; `pycom-secure ota-image` re-encrypts the app for the real slot instead.'],
  },
  'C-rc5-11': {
    id: 'C-rc5-11',
    // The fix (commit 0650a29af, 2019-01-17, "Minor bug fix for Secure Boot") still says SW_VERSION_NUMBER "1.20.0.rc4": project.ts decides rc4 from the makefile.
    label: '1.20.0.rc4 (after the 2019-01-17 fix) - rc11',
    versions: '1.20.0.rc4 (fixed) … 1.20.0.rc11.2',
    needsEncryptFlag: false,
    targets: ['boot', 'app', 'boot_app'],
    // v1.20.0.rc7 application.mk about 439-443: _enc_0x1C0000.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: false,
    knownIssues: [],
  },
  'C-rc12-13': {
    id: 'C-rc12-13',
    label: '1.20.0.rc12 - rc13',
    versions: '1.20.0.rc12 … 1.20.0.rc13',
    needsEncryptFlag: false,
    targets: ['boot', 'app', 'boot_app'],
    // v1.20.0.rc12 application.mk about 445-457: one table per board (partitions_8MB.csv for FIPY GPY LOPY4), still named lib/partitions.bin_enc.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: false,
    knownIssues: [],
  },
  D: {
    id: 'D',
    label: '1.20.1 - 1.20.2.r6',
    versions: '1.20.1 … 1.20.2.r6',
    needsEncryptFlag: false,
    targets: ['boot', 'app', 'boot_app'],
    // v1.20.2.r4 application.mk about 572-581: partitions_4MB.bin_enc and partitions_8MB.bin_enc for every board; <app>.bin_enc.
    partitionTableFile: 'lib/partitions_{layout}.bin_enc',
    factoryFile: '{app}_enc',
    plainAppKept: false,
    knownIssues: [],
  },
  E: {
    id: 'E',
    label: '1.20.3.b3 (small factory firmware layout)',
    versions: '1.20.3.b3',
    needsEncryptFlag: false,
    targets: ['boot', 'app', 'boot_app'],
    // v1.20.3.b3 application.mk about 647-659: partitions_4MB.bin_enc and partitions_8MB_{small,normal}_factory_fw.bin_enc.
    partitionTableFile: 'lib/partitions_{layout}.bin_enc',
    factoryFile: '{app}_enc',
    plainAppKept: false,
    // v1.20.3.b3 Makefile about 13-14: BOARD must have boards/<BOARD>/, and there is no boards/SIPY.
    boards: ['WIPY', 'LOPY', 'GPY', 'FIPY', 'LOPY4'],
    fixedVars: { SMALL_FACTORY_FW_ENABLED: '0' },
    // v1.20.3.b3 Makefile about 27 (SMALL_FACTORY_FW_ENABLED ?= 1), application.mk about 647-663 and 876-902,
    // boards/GPY/script_8MB_small_factory_fw_enc, ftp/updater.c about 37-45.
    fixedVarsReason:
      "Pycom's 1.20.3.b3 secure flow is inconsistent with its default SMALL_FACTORY_FW_ENABLED=1: the 8MB table puts ota_0 at 0x110000, but the OTA copy is encrypted for 0x210000 and its flash script writes the copy encrypted for 0x10000 into 0x110000, so no OTA image boots; this tool builds with SMALL_FACTORY_FW_ENABLED=0 (ota_0 at 0x210000, everything encrypted for the address it is written to).",
    knownIssues: [],
  },
};

export const GENERATION_IDS = Object.keys(GENERATIONS) as GenerationId[];

/** Secure-build outputs common to every generation. */
export const DIGEST_FILE = 'bootloader/bootloader-reflash-digest.bin_enc';
export const PLAIN_BOOTLOADER_FILE = 'bootloader/bootloader.bin';
/** 1.18 and 1.20 both build into `build/<BOARD>/<BTYPE>` (plus `build-<VARIANT>` for variants in 1.20). */
export function buildDirFor(board: string, btype = 'release', variant = 'BASE'): string {
  return `${variant === 'BASE' ? 'build' : `build-${variant}`}/${board}/${btype}`;
}

/** `gpy.bin_enc_0x210000`: the suffix is upper-case hex, as the makefile spells it. */
export function otaCopyName(appBin: string, address: number): string {
  return `${appBin}_enc_${hex(address)}`;
}

/** The encrypted tables a generation's build writes for these layouts (the board catalog says which layouts). */
export function tableOutputs(gen: Generation, layouts: readonly string[]): PartitionTableOutput[] {
  return layouts.map((layout) => ({ file: gen.partitionTableFile.replace('{layout}', layout), layout }));
}

export function factoryName(gen: Generation, appBin: string): string {
  return gen.factoryFile.replace('{app}', appBin);
}

/** Orders version strings like 1.20.0.rc12 < 1.20.1 < 1.20.2.r4 for the checks below. */
function versionKey(v: string): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:\.(b|rc|r)(\d+))?/.exec(v.trim());
  if (!m) return [];
  const stage = m[4] === 'b' ? 0 : m[4] === 'rc' ? 1 : 2; // a final release sorts with its .rN updates
  return [Number(m[1]), Number(m[2]), Number(m[3]), stage, m[5] ? Number(m[5]) : 0];
}

/**
 * The generation a SW_VERSION_NUMBER belongs to; undefined for versions before the secure build
 * or unknown ones. 1.20.0.rc4 is ambiguous (the 2019-01-17 fix kept that number): it maps to
 * C-rc1-4 here and project.ts corrects it from the makefile.
 */
export function generationForVersion(version: string): GenerationId | undefined {
  const k = versionKey(version);
  if (k.length === 0) return undefined;
  const [maj, min, patch, stage, n] = k as [number, number, number, number, number];
  if (maj !== 1) return undefined;
  if (min < 17 || (min === 17 && patch < 2)) return undefined;
  if (min < 19) return 'B';
  if (min === 19) return 'B19';
  if (min === 20 && patch === 0 && stage === 1) {
    if (n <= 4) return 'C-rc1-4';
    if (n <= 11) return 'C-rc5-11';
    return 'C-rc12-13';
  }
  // 1.20.0 without an rc suffix is not a tag: let the makefile decide.
  if (min === 20 && patch === 0) return undefined;
  if (min === 20 && (patch === 1 || patch === 2)) return 'D';
  if (min === 20 && patch === 3) return 'E';
  // A newer release: its makefile decides, or the user is asked to report it.
  return undefined;
}

/** Whether a version is the ambiguous 1.20.0.rc4 (before or after the 2019-01-17 OTA-address fix). */
export function isAmbiguousVersion(version: string): boolean {
  return /^1\.20\.0\.rc4\b/.test(version.trim());
}

/** Where to report a firmware release pycom-secure does not recognise. */
export const REPORT_RELEASE = 'check out a release listed under "Supported firmware releases" in the README, and report this one in the project\'s issue tracker with the output of `git describe --tags` in the checkout and its esp32/pycom_version.h';
