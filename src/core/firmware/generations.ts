/**
 * The four generations of pycom-micropython-sigfox's secure build (pycom.md §1.1, §1.4, §1.5,
 * §1.9, §1.12), as data. File names, partition tables and the address the OTA copy is encrypted
 * for all differ between them; everything that picks a file or an address reads it from here.
 */
import { hex } from '../util/hex';

export type GenerationId = 'A' | 'B' | 'C-rc1-4' | 'C-rc5-11' | 'C-rc12-13' | 'D';

export interface PartitionTableOutput {
  /** Path of the encrypted table relative to the build dir; the plain one is the same without `_enc`. */
  file: string;
  /** Partition layout id in the board catalog (`4MB`). */
  layout: string;
}

export interface Generation {
  id: GenerationId;
  label: string;
  versions: string;
  /** Era A needed ENCRYPT=on besides SECURE=on; later SECURE=on implies encryption. */
  needsEncryptFlag: boolean;
  /** Encrypted table file relative to the build dir, `{layout}` = the layout id; which layouts a board gets is in the board catalog. */
  partitionTableFile: string;
  /** The encrypted factory image (flashed at 0x10000), `{app}` = the board's app bin name. */
  factoryFile: string;
  /** Whether the signed plaintext app survives in the build dir (Era D copies the ciphertext over it). */
  plainAppKept: boolean;
  /** Known defects users hit with this generation, shown when it is detected. */
  knownIssues: readonly string[];
}


export const GENERATIONS: Readonly<Record<GenerationId, Generation>> = {
  A: {
    id: 'A',
    label: 'development line Feb-Mar 2018 (SECURE=on plus ENCRYPT=on)',
    versions: '0ec6e5bd6…dbeed26fc (never released)',
    needsEncryptFlag: true,
    // UNCONFIRMED: output names of this short-lived line; assumed equal to Era B's.
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: ['This development snapshot was never released; ENCRYPT=on is needed besides SECURE=on.'],
  },
  B: {
    id: 'B',
    label: '1.17.2.b1 - 1.18.2.r7 (the "SecureBoot and Encryption" guide)',
    versions: '1.17.2.b1 … 1.18.2.r7',
    needsEncryptFlag: false,
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: [],
  },
  'C-rc1-4': {
    id: 'C-rc1-4',
    label: '1.20.0.rc1 - rc4',
    versions: '1.20.0.rc1 … 1.20.0.rc4',
    needsEncryptFlag: false,
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: ['1.20.0.rc1-rc4 encrypt the OTA copy for 0x1A0000 while the OTA slot is at 0x1C0000: that file can never boot; `pycom-secure ota-image` re-encrypts the app for the real slot instead.'],
  },
  'C-rc5-11': {
    id: 'C-rc5-11',
    label: '1.20.0.rc5 - rc11',
    versions: '1.20.0.rc5 … 1.20.0.rc11',
    needsEncryptFlag: false,
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: [],
  },
  'C-rc12-13': {
    id: 'C-rc12-13',
    label: '1.20.0.rc12 - rc13',
    versions: '1.20.0.rc12 … 1.20.0.rc13',
    needsEncryptFlag: false,
    partitionTableFile: 'lib/partitions.bin_enc',
    factoryFile: '{app}_enc_0x10000',
    plainAppKept: true,
    knownIssues: [],
  },
  D: {
    id: 'D',
    label: '1.20.1 - 1.20.2.r4 (current)',
    versions: '1.20.1 … 1.20.2.r4',
    needsEncryptFlag: false,
    partitionTableFile: 'lib/partitions_{layout}.bin_enc',
    factoryFile: '{app}_enc',
    // Era D copies `<app>.bin_enc` over `<app>.bin`: the signed plaintext is gone.
    plainAppKept: false,
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

/** The generation a SW_VERSION_NUMBER belongs to; undefined for versions before the secure build. */
export function generationForVersion(version: string): GenerationId | undefined {
  const k = versionKey(version);
  if (k.length === 0) return undefined;
  const [maj, min, patch, stage, n] = k as [number, number, number, number, number];
  if (maj !== 1) return undefined;
  if (min < 17 || (min === 17 && patch < 2)) return undefined;
  if (min < 20) return 'B';
  if (min === 20 && patch === 0 && stage === 1) {
    if (n <= 4) return 'C-rc1-4';
    if (n <= 11) return 'C-rc5-11';
    return 'C-rc12-13';
  }
  // 1.20.0 without an rc suffix is not in the spec's tables: let the makefile decide.
  if (min === 20 && patch === 0) return undefined;
  return 'D';
}
