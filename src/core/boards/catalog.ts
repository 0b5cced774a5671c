/**
 * THE board catalog: every fact about a Pycom board this product uses, in one plain table (in
 * the style of esptool's targets/*.py). Everything else derives from it: the CLI's --board
 * choices, the virtual board profiles, the partition tables and OTA copies a build holds, the
 * flash size a planned board gets, package.json's setting enums and the fixture firmware's
 * common.mk (scripts/gen-catalog.ts writes those two; a unit test fails when they drift).
 *
 * Adding a board is one entry in BUILTIN_BOARDS (plus a layout in BUILTIN_LAYOUTS if its
 * partition table is new), then `npm run gen:catalog`. Tests extend the catalog in memory with
 * `withBoards`.
 *
 * Sources, all in pycom-micropython-sigfox unless said: esp32/lib/partitions*.csv (layouts; the
 * 8 MB table iff chip revision > 0: esp32_get_chip_rev() in esp32/ftp/updater.c), esp32/Makefile
 * (BOARD values, app binaries, MICROPY_HW_BOARD_NAME), esp32/application.mk of each tag
 * (per-generation outputs and OTA addresses), Pycom's docs and pycom-libraries' pycoproc_2.py
 * (modules, USB identities).
 */
import type { GenerationId } from '../firmware/generations';
import type { PartitionEntry } from '../partition/table';

const KB = 1024;
const MB = 1024 * KB;

/** Board id as Pycom's makefile spells `BOARD` (`GPY`); upper case. */
export type BoardId = string;
/** Partition layout id (`4MB`, `8MB`, `1.18`). */
export type LayoutId = string;

/** A Pycom partition layout: the entries of one of Pycom's CSV files and the smallest flash it fits. */
export interface PartitionLayout {
  id: LayoutId;
  /** Bytes of flash the layout is made for; a plan picks the largest layout not above the board's flash. */
  flashSize: number;
  /** Entries with exact offsets and sizes; labels of data partitions are UNCONFIRMED (match by type/subtype/offset). */
  entries: readonly PartitionEntry[];
  /** Where Pycom's firmware keeps /flash with this layout (inside the table for 4 MB, outside it for 8 MB). */
  fileSystem: FirmwareRegion;
}

/**
 * A region Pycom's firmware reads and writes at a fixed address of its own, whatever the partition
 * table says (the table may or may not list it): the /flash file system and the config sector.
 */
export interface FirmwareRegion {
  /** Pycom's name for it (esp32/tools/fw_updater/updater.py PARTITIONS: `fs`, `fs1`, `config`). */
  name: string;
  /** First byte (bytes from the start of flash). */
  offset: number;
  /** Length in bytes. */
  size: number;
  /** Whether the firmware writes it through flash encryption when encryption is on. */
  encrypted: boolean;
  /** What it holds, for messages ("the /flash file system"). */
  holds: string;
}

/** What one firmware generation's secure build writes for a board. */
export interface BoardGeneration {
  /** Partition tables the build writes, in the makefile's order (Era D builds two for WiPy and LoPy). */
  layouts: readonly LayoutId[];
  /** Addresses the makefile encrypts a second (OTA) copy of the app for (`OTA_ADDRS`, in its order). */
  otaCopies: readonly number[];
}

/** A physical module (one virtual-board profile): what the eFuses and the flash chip of a real one say. */
export interface ModuleVariant {
  /** Profile id (`GPY`, `WIPY2`); upper case, unique over the catalog. */
  id: string;
  /** Human name (`WiPy 2.0`). */
  title: string;
  /** Flash size in bytes. */
  flashSize: number;
  /** ESP32 silicon revision (major): Pycom's firmware takes the 8 MB layout iff > 0 (esp32_get_chip_rev() in esp32/ftp/updater.c). */
  chipRevision: 0 | 1;
  /** eFuse CHIP_PACKAGE value: 0 = ESP32-D0WDQ6 (reported for GPy and FiPy; UNCONFIRMED for the others). */
  packageCode: number;
}

/** One makefile BOARD value and the modules built with it. */
export interface PycomBoard {
  id: BoardId;
  /** `MICROPY_HW_BOARD_NAME`, also the tarball prefix (`GPy-1.20.2.r4_ENC.tar.gz`) and the pycom.board setting value. */
  name: string;
  /** elf2image output name in the build directory (`gpy.bin`). */
  appBin: string;
  lora: boolean;
  sigfox: boolean;
  lte: boolean;
  /** Per firmware generation: tables and OTA copies of the secure build. */
  generations: Readonly<Record<GenerationId, BoardGeneration>>;
  /** The modules sold with this BOARD value (the virtual profiles); at least one. */
  modules: readonly ModuleVariant[];
}

/** A module with the facts of its BOARD, as the virtual device and the profile list use it. */
export interface PycomModule extends ModuleVariant {
  /** Makefile BOARD value. */
  makeBoard: BoardId;
  /** Name as Pycom prints it (MICROPY_HW_BOARD_NAME). */
  boardName: string;
  lora: boolean;
  sigfox: boolean;
  lte: boolean;
}

/**
 * USB identity of a carrier board. Pycom modules have no USB interface of their own: the USB
 * ids a port shows are those of the expansion board or adapter the module sits on.
 */
export type EntryStrategy = 'pic' | 'classic' | 'none';

export interface UsbBoard {
  vendorId: number;
  productId: number;
  name: string;
  /** True for Pycom boards (PIC-based shields and the FTDI Expansion Board 2). */
  pycom: boolean;
  /** How this board gets the ESP32 into download mode. */
  entry: EntryStrategy;
  /** Short hint shown when the board is in a state we cannot use (e.g. PIC DFU mode). */
  note?: string;
}

/** App partitions: Pycom's CSVs mark factory and ota_0 `encrypted` in every release (e.g. v1.18.2.r7 lib/partitions.csv, v1.20.2.r4 lib/partitions_8MB.csv). */
function app(label: string, subtype: number, offset: number, size: number): PartitionEntry {
  return { label, type: 0, subtype, offset, size, encrypted: true };
}
function data(label: string, subtype: number, offset: number, size: number, encrypted = false): PartitionEntry {
  return { label, type: 1, subtype, offset, size, encrypted };
}

/** Partition subtype numbers (ESP-IDF esp_flash_partitions.h, gen_esp32part.py). */
export const SUBTYPE = { FACTORY: 0x00, OTA_0: 0x10, OTA_DATA: 0x00, NVS: 0x02 } as const;

/*
 * Pycom's fixed regions (pycom-micropython-sigfox v1.18.2.r7 to v1.20.3.b3, the same in each):
 *  - /flash: esp32/fatfs/src/drivers/sflash_diskio.h SFLASH_START_ADDR_4MB 0x380000 and _8MB
 *    0x400000, with MICROPY_PORT_SFLASH_BLOCK_COUNT_4MB 127 and _8MB 1024 blocks of 4 KB
 *    (esp32/mpconfigport.h); sflash_diskio.c takes the 8 MB one iff esp32_get_chip_rev() > 0, which
 *    for every module in this catalog is the 8 MB flash that takes the 8 MB layouts. FatFS writes it
 *    with spi_flash_write_encrypted when flash encryption is on (sflash_diskio.c sflash_write);
 *    LittleFS (esp32/littlefs/sflash_diskio_littlefs.c) writes it plaintext. Taken as encrypted,
 *    FatFS being the default: a plaintext file there on an encrypted chip is refused, the
 *    conservative answer. An older (1.18 or 4MB) table on an 8 MB module is given the 4 MB file
 *    system (its firmware would use 0x400000): a write at 0x400000 is then refused (conservative).
 *  - config: esp32/pycom_config.c CONFIG_DATA_FLASH_ADDR (0x380000 + 127 blocks = 0x3FF000), one
 *    4 KB sector written with plain spi_flash_write (plaintext even with flash encryption on).
 */
const FS_4MB: FirmwareRegion = { name: 'fs', offset: 0x380000, size: 127 * 4 * KB, encrypted: true, holds: 'the /flash file system' };
const FS_8MB: FirmwareRegion = { name: 'fs1', offset: 0x400000, size: 1024 * 4 * KB, encrypted: true, holds: 'the /flash file system' };
/** The LoRa/Sigfox identity sector (MACs, Sigfox ID/PAC, Wi-Fi and Pybytes settings) of every Pycom layout: plaintext, never rewritten by us unless forced. */
export const CONFIG_SECTOR: FirmwareRegion = { name: 'config', offset: 0x3ff000, size: 4 * KB, encrypted: false, holds: 'the LoRa/Sigfox identity sector' };

const EIGHT_MB_NORMAL: readonly PartitionEntry[] = [
  data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
  app('factory', SUBTYPE.FACTORY, 0x10000, 0x1ef000),
  data('otadata', SUBTYPE.OTA_DATA, 0x1ff000, 0x1000, true),
  app('ota_0', SUBTYPE.OTA_0, 0x210000, 0x1ef000),
  data('config', 6, 0x3ff000, 4 * KB),
];

/** Pycom's partition layouts (the esp32/lib/partitions*.csv of the tags cited per layout). */
const BUILTIN_LAYOUTS: readonly PartitionLayout[] = [
  // Era B/1.17-1.18 `lib/partitions.csv` (1536K slots).
  { id: '1.18', flashSize: 4 * MB, fileSystem: FS_4MB, entries: [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 0x180000),
    data('otadata', SUBTYPE.OTA_DATA, 0x190000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x1a0000, 0x180000),
    data('dummy', 7, 0x320000, 64 * KB),
    data('fs', 5, 0x380000, 508 * KB, true),
    data('config', 6, 0x3ff000, 4 * KB),
  ] },
  // 1.20 `partitions_4MB.csv` (also the single table of 1.20 rc1-rc11), 1720K slots.
  { id: '4MB', flashSize: 4 * MB, fileSystem: FS_4MB, entries: [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 0x1ae000),
    data('otadata', SUBTYPE.OTA_DATA, 0x1be000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x1c0000, 0x1ae000),
    data('dummy', 7, 0x36e000, 64 * KB),
    data('fs', 5, 0x380000, 508 * KB, true),
    data('config', 6, 0x3ff000, 4 * KB),
  ] },
  // 1.20 `partitions_8MB.csv`, 1980K slots; the file system (fs1 at 0x400000) is not in the table.
  { id: '8MB', flashSize: 8 * MB, fileSystem: FS_8MB, entries: EIGHT_MB_NORMAL },
  // v1.20.3.b3 lib/partitions_8MB_normal_factory_fw.csv: the same entries as 8MB under another name.
  { id: '8MB_normal_factory_fw', flashSize: 8 * MB, fileSystem: FS_8MB, entries: EIGHT_MB_NORMAL },
  // v1.20.3.b3 lib/partitions_8MB_small_factory_fw.csv (SMALL_FACTORY_FW_ENABLED=1, the default):
  // factory 1020K, ota_0 at 0x110000 with 3004K (boards/GPY/script_8MB_small_factory_fw_enc agrees).
  // Its firmware (v1.20.3.b3 sflash_diskio.h) still keeps /flash at 0x400000.
  { id: '8MB_small_factory_fw', flashSize: 8 * MB, fileSystem: FS_8MB, entries: [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 1020 * KB),
    data('otadata', SUBTYPE.OTA_DATA, 0x10f000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x110000, 3004 * KB),
    data('config', 6, 0x3ff000, 4 * KB),
  ] },
];

/** CONFIG_SECTOR's address (0x3FF000). */
export const CONFIG_SECTOR_ADDRESS = CONFIG_SECTOR.offset;

/*
 * Per generation and board: the tables the build writes and the addresses of its OTA copies.
 *  - A, B, B19: lib/partitions.csv (1.18 layout) and <app>_enc_0x1A0000 (v1.18.2.r7, v1.19.0.b4 application.mk).
 *  - C-rc1-4: the 4MB layout but the copy for 0x1A0000 (v1.20.0.rc1 application.mk about 424: the bug).
 *  - C-rc5-11: 4MB layout, copy for 0x1C0000 (v1.20.0.rc7 application.mk about 443).
 *  - C-rc12-13: one table per board: 8MB and 0x210000 for FIPY GPY LOPY4, else 4MB and 0x1C0000 (v1.20.0.rc12 about 451-457).
 *  - D, E: both tables for every board (v1.20.2.r4 about 572-581, 884-900; v1.20.3.b3 about 647-663);
 *    copies: 0x210000 for FIPY GPY LOPY4, 0x210000 and 0x1C0000 for WIPY LOPY, 0x1C0000 for SIPY (v1.20.2.r4 about 800-817).
 *    E's 8MB table is the small-factory one by default and the normal one with SMALL_FACTORY_FW_ENABLED=0
 *    (what pycom-secure builds); both are listed so a board flashed either way is understood.
 */
const OLD: Pick<Record<GenerationId, BoardGeneration>, 'A' | 'B' | 'B19' | 'C-rc1-4' | 'C-rc5-11'> = {
  A: { layouts: ['1.18'], otaCopies: [0x1a0000] },
  B: { layouts: ['1.18'], otaCopies: [0x1a0000] },
  B19: { layouts: ['1.18'], otaCopies: [0x1a0000] },
  'C-rc1-4': { layouts: ['4MB'], otaCopies: [0x1a0000] },
  'C-rc5-11': { layouts: ['4MB'], otaCopies: [0x1c0000] },
};
const D_TABLES = ['4MB', '8MB'];
const E_TABLES = ['4MB', '8MB_normal_factory_fw', '8MB_small_factory_fw'];
/** 4 MB-only BOARD values (SIPY). */
const SMALL: Record<GenerationId, BoardGeneration> = {
  ...OLD,
  'C-rc12-13': { layouts: ['4MB'], otaCopies: [0x1c0000] },
  D: { layouts: D_TABLES, otaCopies: [0x1c0000] },
  // Not built by v1.20.3.b3 (no boards/SIPY): kept so the table is complete; the runner refuses the board.
  E: { layouts: ['4MB'], otaCopies: [0x1c0000] },
};
/** 8 MB modules (FIPY GPY LOPY4): the 8MB table from 1.20.0.rc12 on. */
const LARGE: Record<GenerationId, BoardGeneration> = {
  ...OLD,
  'C-rc12-13': { layouts: ['8MB'], otaCopies: [0x210000] },
  D: { layouts: D_TABLES, otaCopies: [0x210000] },
  E: { layouts: E_TABLES, otaCopies: [0x210000] },
};
/** BOARD values sold with 4 MB and 8 MB modules (WIPY LOPY): Era D and E build both OTA copies. */
const BOTH: Record<GenerationId, BoardGeneration> = {
  ...OLD,
  'C-rc12-13': { layouts: ['4MB'], otaCopies: [0x1c0000] },
  D: { layouts: D_TABLES, otaCopies: [0x210000, 0x1c0000] },
  E: { layouts: E_TABLES, otaCopies: [0x210000, 0x1c0000] },
};

/** The boards. Order is the order of every list shown to users. */
const BUILTIN_BOARDS: readonly PycomBoard[] = [
  // WiPy 2.0 has 4 MB, WiPy 3.0 has 8 MB: both layouts are real for this BOARD value.
  { id: 'WIPY', name: 'WiPy', appBin: 'wipy.bin', lora: false, sigfox: false, lte: false, generations: BOTH, modules: [
    { id: 'WIPY', title: 'WiPy 3.0', flashSize: 8 * MB, chipRevision: 1, packageCode: 0 },
    { id: 'WIPY2', title: 'WiPy 2.0', flashSize: 4 * MB, chipRevision: 0, packageCode: 0 },
  ] },
  // The makefile builds both OTA copies for LOPY as for WIPY; LoPy (1) modules have 4 MB.
  { id: 'LOPY', name: 'LoPy', appBin: 'lopy.bin', lora: true, sigfox: false, lte: false, generations: BOTH, modules: [
    { id: 'LOPY', title: 'LoPy', flashSize: 4 * MB, chipRevision: 0, packageCode: 0 },
  ] },
  { id: 'SIPY', name: 'SiPy', appBin: 'sipy.bin', lora: false, sigfox: true, lte: false, generations: SMALL, modules: [
    { id: 'SIPY', title: 'SiPy', flashSize: 4 * MB, chipRevision: 0, packageCode: 0 },
  ] },
  { id: 'GPY', name: 'GPy', appBin: 'gpy.bin', lora: false, sigfox: false, lte: true, generations: LARGE, modules: [
    { id: 'GPY', title: 'GPy', flashSize: 8 * MB, chipRevision: 1, packageCode: 0 },
  ] },
  { id: 'FIPY', name: 'FiPy', appBin: 'fipy.bin', lora: true, sigfox: true, lte: true, generations: LARGE, modules: [
    { id: 'FIPY', title: 'FiPy', flashSize: 8 * MB, chipRevision: 1, packageCode: 0 },
  ] },
  { id: 'LOPY4', name: 'LoPy4', appBin: 'lopy4.bin', lora: true, sigfox: true, lte: false, generations: LARGE, modules: [
    { id: 'LOPY4', title: 'LoPy4', flashSize: 8 * MB, chipRevision: 1, packageCode: 0 },
  ] },
];

/** USB identities of the carrier boards this product recognises (Pycom's "Updating Expansion Board Firmware" docs; pycom-libraries shields/lib/pycoproc_2.py). */
export const USB_BOARDS: readonly UsbBoard[] = [
  { vendorId: 0x04d8, productId: 0xf013, name: 'Pytrack', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xf012, name: 'Pysense', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xef38, name: 'Pyscan', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xef98, name: 'Expansion Board 3', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xed14, name: 'Pygate', pycom: true, entry: 'pic' },
  // DFU (PIC bootloader) PIDs: no serial port exists in this mode, but a listing may show them.
  { vendorId: 0x04d8, productId: 0xf014, name: 'Pytrack (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xf011, name: 'Pysense (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xef37, name: 'Pyscan (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xef99, name: 'Expansion Board 3 (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xed15, name: 'Pygate (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  // Expansion Board 2.0: FTDI FT234XD without DTR/RTS wiring to EN/GPIO0, so the user jumpers P2.
  { vendorId: 0x0403, productId: 0x6015, name: 'Expansion Board 2 (FTDI)', pycom: true, entry: 'none' },
  // Generic USB-UARTs on third-party adapters: most wire DTR/RTS the Espressif way.
  { vendorId: 0x10c4, productId: 0xea60, name: 'CP210x USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x1a86, productId: 0x7523, name: 'CH340 USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x0403, productId: 0x6001, name: 'FTDI FT232R USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x0403, productId: 0x6010, name: 'FTDI FT2232 USB-UART', pycom: false, entry: 'classic' },
];

/** The catalog in force: the built-in tables, or those plus what `withBoards` added. */
export interface Catalog {
  boards: readonly PycomBoard[];
  layouts: readonly PartitionLayout[];
}

let current: Catalog = { boards: BUILTIN_BOARDS, layouts: BUILTIN_LAYOUTS };

/** The catalog in force (the built-in one unless inside `withBoards`). */
export function catalog(): Catalog {
  return current;
}

/**
 * Runs `fn` with `extra` boards and layouts added to the catalog, then restores it (after the
 * promise settles when `fn` is async). For tests and for trying out a board before adding it.
 * Throws if an added id is already in the catalog, or a board names a layout that does not exist.
 */
export function withBoards<T>(extra: Partial<Catalog>, fn: () => T): T {
  const before = current;
  const next: Catalog = { boards: [...before.boards, ...(extra.boards ?? [])], layouts: [...before.layouts, ...(extra.layouts ?? [])] };
  checkCatalog(next);
  current = next;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    current = before;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      current = before;
    }) as T;
  }
  current = before;
  return result;
}

/** Consistency rules of the catalog; throws an Error naming the first broken one. */
export function checkCatalog(c: Catalog): void {
  const dup = (ids: string[]) => ids.find((id, i) => ids.indexOf(id) !== i);
  const d = dup(c.boards.map((b) => b.id)) ?? dup(c.boards.flatMap((b) => b.modules.map((m) => m.id))) ?? dup(c.layouts.map((l) => l.id));
  if (d !== undefined) throw new Error(`board catalog: ${d} is defined twice`);
  for (const b of c.boards) {
    if (b.id !== b.id.toUpperCase() || b.modules.length === 0) throw new Error(`board catalog: ${b.id} must be upper case and have a module`);
    for (const g of Object.values(b.generations)) {
      for (const l of g.layouts) if (!c.layouts.some((x) => x.id === l)) throw new Error(`board catalog: ${b.id} uses unknown layout ${l}`);
    }
  }
}

/** Makefile BOARD values in catalog order (`WIPY`, `LOPY`, ...). */
export function boardIds(): BoardId[] {
  return current.boards.map((b) => b.id);
}

/** The board with this makefile BOARD value (exact, upper case), or undefined. */
export function findBoard(id: string): PycomBoard | undefined {
  return current.boards.find((b) => b.id === id);
}

/** The board with this id; throws an Error for an id that `parseBoard` did not produce. */
export function board(id: BoardId): PycomBoard {
  const b = findBoard(id);
  if (!b) throw new Error(`board catalog: no board ${id}`);
  return b;
}

export function isBoardId(s: string): s is BoardId {
  return findBoard(s) !== undefined;
}

/** Accepts `GPY`, `gpy`, `GPy` (what users type after reading the board name, and both setting spellings). */
export function parseBoard(s: string): BoardId | undefined {
  const up = s.trim().toUpperCase();
  return isBoardId(up) ? up : undefined;
}

/** Finds the board from an app binary name (`gpy.bin`, `gpy.bin_enc_0x210000`). */
export function boardFromAppFile(file: string): BoardId | undefined {
  const base = file.replace(/^.*[\\/]/, '');
  const m = /^([a-z0-9]+)\.bin(?:_enc.*)?$/.exec(base);
  if (!m) return undefined;
  return current.boards.find((b) => b.appBin === `${m[1]}.bin`)?.id;
}

/**
 * Flash size, in bytes, a build for `id` is planned for when no board is connected: the smallest
 * module sold with that BOARD value (a 4 MB table boots on an 8 MB chip, not the other way round).
 */
export function boardFlashSize(id: BoardId): number {
  return Math.min(...board(id).modules.map((m) => m.flashSize));
}

/** Every module (virtual profile) with its board's facts, in catalog order. */
export function modules(): PycomModule[] {
  return current.boards.flatMap((b) => b.modules.map((m) => ({ ...m, makeBoard: b.id, boardName: b.name, lora: b.lora, sigfox: b.sigfox, lte: b.lte })));
}

/** Module (profile) ids in catalog order (`WIPY`, `WIPY2`, `LOPY`, ...). */
export function moduleIds(): string[] {
  return modules().map((m) => m.id);
}

/** The module with this profile id, case-insensitive (`gpy`, `GPY`), or undefined. */
export function findModule(id: string): PycomModule | undefined {
  const up = id.trim().toUpperCase();
  return modules().find((m) => m.id === up);
}

/** The layout with this id; throws an Error for an unknown one. */
export function layout(id: LayoutId): PartitionLayout {
  const l = current.layouts.find((x) => x.id === id);
  if (!l) throw new Error(`board catalog: no partition layout ${id}`);
  return l;
}

/** Every layout in the catalog. */
export function layouts(): readonly PartitionLayout[] {
  return current.layouts;
}

/** What the secure build of `generation` writes for `id`: its tables and OTA copy addresses. */
export function boardGeneration(id: BoardId, generation: GenerationId): BoardGeneration {
  return board(id).generations[generation];
}

/**
 * The layouts among `ids` (in their order) that a module with `flashSize` bytes of flash takes:
 * those made for the most flash not above it (PartitionLayout.flashSize; ties all count: 1.20.3.b3's
 * small- and normal-factory 8MB tables). Empty when every one is made for more flash. This is the
 * one rule by which a flash plan picks a build's table and by which a table given as ADDR FILE is
 * judged: a smaller flash size's table is never taken when the size's own one exists.
 */
export function layoutsForFlashSize(ids: readonly LayoutId[], flashSize: number): LayoutId[] {
  const fit = ids.filter((l) => layout(l).flashSize <= flashSize);
  const best = Math.max(...fit.map((l) => layout(l).flashSize));
  return fit.filter((l) => layout(l).flashSize === best);
}

/**
 * The catalog layouts whose entries are exactly `entries` (same count, and each the same type,
 * subtype, offset and size in the same order; labels and flags are not compared, the data
 * partitions' labels being unconfirmed). Several when layouts share their entries (8MB and
 * 8MB_normal_factory_fw); empty for a table of one's own.
 */
export function layoutsMatching(entries: readonly PartitionEntry[]): PartitionLayout[] {
  const same = (a: PartitionEntry, b: PartitionEntry): boolean => a.type === b.type && a.subtype === b.subtype && a.offset === b.offset && a.size === b.size;
  return current.layouts.filter((l) => l.entries.length === entries.length && l.entries.every((e, i) => same(e, entries[i]!)));
}

/**
 * The regions Pycom's firmware keeps at fixed addresses with the layouts `ids` (the layouts a
 * table is, catalog layoutsMatching, or a plan's layout): each one's file system, then the config
 * sector, each once. With no layout (a table of one's own) only the config sector, which every
 * Pycom firmware writes at 0x3FF000. Source: the comment on FS_4MB/FS_8MB/CONFIG_SECTOR.
 */
export function firmwareRegions(ids: readonly LayoutId[]): FirmwareRegion[] {
  const all = [...ids.map((l) => layout(l).fileSystem), CONFIG_SECTOR];
  return all.filter((r, i) => all.indexOf(r) === i);
}

/**
 * The ota_0 offsets `pycom.ota_slot()` can answer (besides the factory slot) on a board flashed
 * from this generation's build: for each module of the board, the ota_0 of the tables a flash
 * would pick for its flash size (layoutsForFlashSize). A 4 MB SiPy never gets the 8MB table's slot.
 */
export function otaSlots(id: BoardId, generation: GenerationId, flashSize?: number): number[] {
  const ids = boardGeneration(id, generation).layouts;
  // With the board's flash size known, only its layouts' slots (a 4 MB WiPy 2.0 has no 0x210000).
  const picked = new Set(flashSize !== undefined ? layoutsForFlashSize(ids, flashSize) : board(id).modules.flatMap((m) => layoutsForFlashSize(ids, m.flashSize)));
  return [...new Set(ids.filter((l) => picked.has(l)).map((l) => layout(l).entries.find((e) => e.type === 0 && e.subtype === SUBTYPE.OTA_0)!.offset))];
}

/** The boards for a message, in catalog order: `WIPY, LOPY, SIPY, GPY, FIPY or LOPY4` (by id) or `WiPy, ..., FiPy or LoPy4` (by name). */
export function boardChoices(by: 'id' | 'name' = 'id'): string {
  const all = current.boards.map((b) => b[by]);
  return all.length > 1 ? `${all.slice(0, -1).join(', ')} or ${all[all.length - 1]}` : all.join('');
}
