import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { DIGEST_FILE, factoryName, GENERATIONS, tableOutputs, type GenerationId } from '../firmware/generations';
import { hex } from '../util/hex';
import type { BuildOutputs } from '../firmware/outputs';
import { classifyContent, type ContentKind } from '../firmware/content';
import { readDataFile } from '../util/atomic-file';
import { board as boardFacts, boardGeneration, CONFIG_SECTOR_ADDRESS, layout as layoutFacts, layoutsForFlashSize, type BoardId, type LayoutId } from '../boards/catalog';
import { BOOTLOADER_ADDRESS, DIGEST_ADDRESS, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { identifyFile, type FileKind } from '../image/file-kind';
import { describePlace, type FlashPlace } from './place';

/**
 * A flash plan: which bytes go to which address, what they are, and whether they are already
 * encrypted for that address. Built from a build directory or from explicit ADDR FILE pairs, then
 * checked (checks.ts) before a single byte is written.
 */
export type RegionRole = 'bootloader-digest' | 'bootloader' | 'partition-table' | 'app' | 'ota-copy' | 'config' | 'data';

/**
 * What each role's bytes must be as the chip reads them (decrypted at their address when
 * encrypted); roles not listed (config, data) may hold anything.
 */
export const EXPECTED_CONTENT: Readonly<Partial<Record<RegionRole, ContentKind>>> = {
  'bootloader-digest': 'digest-image',
  bootloader: 'image',
  'partition-table': 'partition-table',
  app: 'image',
  'ota-copy': 'image',
};

export interface PlanRegion {
  address: number;
  file: string;
  data: Uint8Array;
  role: RegionRole;
  encrypted: boolean;
  /**
   * Where it goes in the flash map the plan is checked against (place.ts: a partition of the
   * table, or a region Pycom's firmware keeps outside it, such as "fs1"), so the plan shown and
   * the messages name it; set by checkPlan, undefined below 0x9000 or without a table.
   */
  place?: FlashPlace;
}

export interface FlashPlan {
  regions: PlanRegion[];
  board?: BoardId;
  generation?: GenerationId;
  /** The partition layout the plan's table describes (for size checks when the table is encrypted and no key is known). */
  layout?: LayoutId;
  /** The build folder the plan was made from (build/<BOARD>/release), for messages; undefined for ADDR FILE pairs. */
  buildDir?: string;
}

/** What a file is by its bytes alone (image/file-kind.ts identifyFile), for describeRegion; `text` for printable bytes, `data` when nothing fits. */
export function fileKindLabel(data: Uint8Array): string {
  const id = identifyFile(data);
  if (id.kind !== 'unknown') return FILE_KIND_LABEL[id.kind];
  const printable = data.length > 0 && data.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f));
  return printable ? 'text' : 'data';
}
const FILE_KIND_LABEL: Record<Exclude<FileKind, 'unknown'>, string> = {
  app: 'app image', bootloader: 'bootloader image', 'digest-image': 'secure boot digest image', 'partition-table': 'partition table', ciphertext: 'ciphertext',
};

/**
 * A region as every message names it: the file, the address, what the file is by its bytes
 * (fileKindLabel: never a guess from the address) and its size, then where it goes when the
 * checks placed it (place.ts describePlace: the partition's label, type/subtype and whether the
 * chip reads it encrypted; or Pycom's name for a fixed region): `nvs.bin at 0x9000 (data, 24576
 * bytes, into "nvs" (data/nvs partition, not encrypted))`.
 */
export function describeRegion(r: PlanRegion): string {
  return `${path.basename(r.file)} at ${hex(r.address)} (${fileKindLabel(r.data)}, ${r.data.length} bytes${r.place ? `, into ${describePlace(r.place)}` : ''})`;
}

const mb = (bytes: number): string => `${bytes / 0x100000} MB`;

/**
 * The build's table for a board with `flashSize` bytes of flash: the one of a layout the catalog
 * gives that flash size among the tables this generation builds for the board
 * (layoutsForFlashSize; Era D builds 4MB and 8MB for every board), in the makefile's order.
 * Undefined when the build holds no table at all (E_PLAN_INCOMPLETE names it with the rest).
 * Never another size's table: on an 8 MB module the 4MB layout puts ota_0 at 0x1C0000 instead of
 * 0x210000 and moves the file system, so later OTA images and the board's /flash no longer fit.
 * Errors: E_PLAN_FLASH_SIZE without a flash size when the build is for several sizes, or when
 * every table is for more flash; E_PLAN_TABLE_MISSING when the table for the size is not there
 * (naming the file from the generation's partitionTableFile).
 */
function pickTable(b: BuildOutputs, flashSize: number | undefined) {
  const tables = b.outputs.filter((o) => o.role === 'partition-table');
  if (tables.length === 0) return undefined;
  const built = boardGeneration(b.board, b.generation).layouts;
  const sizes = [...new Set(built.map((l) => layoutFacts(l).flashSize))].sort((x, y) => x - y);
  if (flashSize === undefined) {
    // One flash size for every table the build makes: any of them is the one.
    if (sizes.length <= 1) return tables[0];
    throw new UserError('E_PLAN_FLASH_SIZE', `The build in ${b.dir} makes partition tables for ${sizes.map(mb).join(' and ')} modules; connect the board (its flash size decides) or pass --flash-size.`);
  }
  const wanted = layoutsForFlashSize(built, flashSize);
  if (wanted.length === 0) {
    throw new UserError('E_PLAN_FLASH_SIZE', `${b.dir} has partition tables only for ${sizes.map(mb).join(' and ')} modules, but the board has ${mb(flashSize)} of flash; use a build for the board's own module (build/<BOARD>/release).`);
  }
  const table = tables.find((t) => t.layout !== undefined && wanted.includes(t.layout));
  if (table) return table;
  const files = tableOutputs(GENERATIONS[b.generation], wanted).map((t) => t.file);
  const others = tables.map((t) => t.rel).join(', ');
  throw new UserError('E_PLAN_TABLE_MISSING', `${b.dir} has no partition table for a board with ${mb(flashSize)} of flash: ${files.join(' or ')} is missing, and its ${others} ${tables.length > 1 ? 'are' : 'is'} made for another flash size (ota_0 and the file system would move); restore ${files.length > 1 ? 'the one this build made' : files[0]} to the build folder, or build again (pycom-secure build); nothing was written.`);
}

/** The full secure set of a build: digest at 0x0, partition table at 0x8000, factory app at 0x10000. */
export function planFromBuild(b: BuildOutputs, opts: { flashSize?: number } = {}): FlashPlan {
  const digest = b.outputs.find((o) => o.role === 'bootloader-digest');
  const table = pickTable(b, opts.flashSize);
  const app = b.outputs.find((o) => o.role === 'app');
  const gen = GENERATIONS[b.generation];
  const missing = [
    !digest && `the bootloader digest image (${DIGEST_FILE})`,
    !table && 'the partition table',
    !app && `the app (${factoryName(gen, boardFacts(b.board).appBin)})`,
  ].filter(Boolean);
  if (missing.length) {
    // `build`'s default target makes the bootloader and the app (boot_app, or TARGET=boot then TARGET=app where a release has no boot_app).
    throw new UserError('E_PLAN_INCOMPLETE', `${b.dir} lacks ${missing.join(', ')}; build again with \`pycom-secure build --board ${b.board}\` (its default target makes the bootloader and the app; the editor: Build Secure Firmware); nothing was written.`);
  }
  const regions = [digest!, table!, app!].map((o) => ({
    address: o.address,
    file: o.path,
    data: new Uint8Array(fs.readFileSync(o.path)),
    role: o.role,
    encrypted: o.encrypted,
  }));
  return { regions, board: b.board, generation: b.generation, buildDir: b.dir, ...(table!.layout ? { layout: table!.layout } : {}) };
}

/**
 * The role an explicit `ADDR FILE` pair most likely has, from its address and (if plain) its bytes.
 * Encrypted when its bytes are no valid image, table or digest image and either carry such a magic
 * (a damaged one, or one encrypted for this address that decrypts to it) or look random
 * (identifyFile 'ciphertext'); bytes with no magic that do not look random (a text file, an NVS
 * image, 0xFF padding) are plaintext data.
 */
export function guessRole(address: number, data: Uint8Array): { role: RegionRole; encrypted: boolean } {
  const c = classifyContent(data);
  const magic = data[0] === 0xe9 || (data[0] === 0xaa && data[1] === 0x50);
  const encrypted = c.kind === 'unknown' && (magic || identifyFile(data).kind !== 'unknown');
  if (address >= CONFIG_SECTOR_ADDRESS && address < CONFIG_SECTOR_ADDRESS + SECTOR_SIZE) return { role: 'config', encrypted: false };
  if (address === DIGEST_ADDRESS) return { role: encrypted || c.kind === 'digest-image' ? 'bootloader-digest' : c.kind === 'image' ? 'bootloader' : 'data', encrypted };
  if (address === BOOTLOADER_ADDRESS) return { role: 'bootloader', encrypted };
  if (address === PARTITION_TABLE_ADDRESS) return { role: 'partition-table', encrypted };
  if (c.kind === 'image' || (encrypted && address >= 0x10000 && address % 0x10000 === 0)) return { role: 'app', encrypted };
  if (c.kind === 'partition-table') return { role: 'partition-table', encrypted };
  return { role: 'data', encrypted };
}

export function planFromPairs(pairs: ReadonlyArray<{ address: number; file: string }>): FlashPlan {
  if (pairs.length === 0) throw new UserError('E_USAGE', 'Nothing to flash: give --build DIR or ADDR FILE pairs.');
  const regions = pairs.map(({ address, file }) => {
    const data = new Uint8Array(readDataFile(file, { what: 'file to flash', isNot: 'an image to flash', instead: 'keys go into eFuses (`pycom-secure efuse burn-keys`), never into flash, so give the images the build wrote as ADDR FILE pairs, or --build DIR' }));
    if (data.length === 0) throw new UserError('E_PLAN_EMPTY', `${file} is empty; there is nothing to write at ${hex(address)}.`);
    return { address, file, data, ...guessRole(address, data) };
  });
  return { regions };
}
