/**
 * Per-board firmware facts (pycom.md §1.10, §1.5), as data: the BOARD value the makefile takes,
 * the application binary it builds, the MicroPython board name and the flash sizes the module
 * ships with. OTA slot addresses depend on the firmware generation too, so they live in
 * firmware/generations.ts next to the other per-generation tables.
 */
export const BOARDS = ['WIPY', 'LOPY', 'SIPY', 'GPY', 'FIPY', 'LOPY4'] as const;
export type BoardId = (typeof BOARDS)[number];

const MB = 0x100000;

export interface BoardFirmware {
  id: BoardId;
  /** `MICROPY_HW_BOARD_NAME`, also the tarball prefix (`GPy-1.20.2.r4_ENC.tar.gz`). */
  name: string;
  /** elf2image output name in the build directory. */
  appBin: string;
  lora: boolean;
  sigfox: boolean;
  /** Flash sizes the module exists with; the first is the usual one. */
  flashSizes: readonly number[];
}

export const BOARD_FIRMWARE: Readonly<Record<BoardId, BoardFirmware>> = {
  // WiPy 2.0 has 4 MB, WiPy 3.0 has 8 MB: both layouts are real for this BOARD value.
  WIPY: { id: 'WIPY', name: 'WiPy', appBin: 'wipy.bin', lora: false, sigfox: false, flashSizes: [4 * MB, 8 * MB] },
  // The makefile builds both OTA copies for LOPY as for WIPY; LoPy (1) modules have 4 MB.
  LOPY: { id: 'LOPY', name: 'LoPy', appBin: 'lopy.bin', lora: true, sigfox: false, flashSizes: [4 * MB, 8 * MB] },
  SIPY: { id: 'SIPY', name: 'SiPy', appBin: 'sipy.bin', lora: false, sigfox: true, flashSizes: [4 * MB] },
  GPY: { id: 'GPY', name: 'GPy', appBin: 'gpy.bin', lora: false, sigfox: false, flashSizes: [8 * MB] },
  FIPY: { id: 'FIPY', name: 'FiPy', appBin: 'fipy.bin', lora: true, sigfox: true, flashSizes: [8 * MB] },
  LOPY4: { id: 'LOPY4', name: 'LoPy4', appBin: 'lopy4.bin', lora: true, sigfox: true, flashSizes: [8 * MB] },
};

export function isBoardId(s: string): s is BoardId {
  return (BOARDS as readonly string[]).includes(s);
}

/** Accepts `GPY`, `gpy`, `GPy` (what users type after reading the board name). */
export function parseBoard(s: string): BoardId | undefined {
  const up = s.trim().toUpperCase();
  return isBoardId(up) ? up : undefined;
}

/** Finds the board from an app binary name (`gpy.bin`, `gpy.bin_enc_0x210000`). */
export function boardFromAppFile(file: string): BoardId | undefined {
  const base = file.replace(/^.*[\\/]/, '');
  const m = /^([a-z0-9]+)\.bin(?:_enc.*)?$/.exec(base);
  if (!m) return undefined;
  return BOARDS.find((b) => BOARD_FIRMWARE[b].appBin === `${m[1]}.bin`);
}
