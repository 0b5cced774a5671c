import { UserError } from '../errors';
import { computeBootloaderDigest } from '../crypto/bootloader-digest';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent, type ContentKind } from '../firmware/content';
import { hex } from '../util/hex';
import { boardFlashSize, catalog, CONFIG_SECTOR_ADDRESS, layout, layouts, layoutsForFlashSize, layoutsMatching, SUBTYPE, type LayoutId } from '../boards/catalog';
import * as path from 'node:path';
import { DIGEST_FILE, GENERATIONS, tableOutputs } from '../firmware/generations';
import { BOOTLOADER_ADDRESS, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { identifyFile } from '../image/file-kind';
import { parsePartitionTable, TABLE_MAX_LEN, validatePartitionTable, type PartitionEntry } from '../partition/table';
import { describeRegion, EXPECTED_CONTENT, type FlashPlan, type PlanRegion } from './plan';
import { provisioningProfile } from '../boot/predict';
import { describeFirmwareRegion, flashMap, placeAt, placeEncrypted, type FlashMap } from './place';
import { diagnoseDamage, diagnoseDecryption, diagnoseDigest, diagnoseMisplaced, type NamedKey } from './diagnose';
import { bootSignatureStatus } from '../image/verify-file';
import { fingerprint } from '../util/fingerprint';
import { codingSchemeCause, unsupportedCodingScheme } from '../efuse/burn/coding-support';

/**
 * Everything that is checked before the first byte is written. Each refusal is a UserError whose
 * sentence names the file, the address and the reason, so nothing half-written is ever left behind
 * by a plan that could have been rejected up front (issue 5 §3).
 */
export interface ChipSecurity {
  /** FLASH_CRYPT_CNT has an odd number of bits set. */
  flashEncryption: boolean;
  /** ABS_DONE_0 is burned. */
  secureBoot: boolean;
  flashCryptConf?: number;
  flashSize?: number;
  /**
   * Which key blocks read as empty (readable and all zero): BLOCK1 holds the flash-encryption
   * key, BLOCK2 the secure boot key. A secure bootloader fills an empty, unprotected block with a
   * key of its own on first boot (ESP-IDF secure_boot.c, flash_encrypt.c). A write-protected
   * empty block counts as empty too: the bootloader then refuses to boot instead, which is no
   * better (conservative). Undefined when not known: the self-provisioning check is then skipped.
   */
  emptyKeyBlocks?: { blk1: boolean; blk2: boolean };
  /**
   * CODING_SCHEME, when readable: on a 3/4 board with keys burned, a region that does not decrypt
   * or verify, and a boot predicted to fail, are blamed on the coding scheme (coding-support.ts
   * codingSchemeCause), not on the keys.
   */
  codingScheme?: number;
}

export interface BootPrediction {
  boots: boolean;
  /** Why not, in the words of the boot log when possible. */
  reason?: string;
}

/** D's boot prediction, applied to the flash as it would be after the plan. */
export type BootPredictor = (plan: FlashPlan) => BootPrediction | Promise<BootPrediction>;

export interface CheckContext {
  /** The connected chip's state; undefined when only the plan itself can be checked (dry run without a board). */
  chip?: ChipSecurity;
  /** The flash-encryption key for this board from the key store (never printed: fingerprint only). */
  flashKey?: Uint8Array;
  /** The secure boot key as it is in BLOCK2 (key-file order), when known (readable, or what we burned). */
  secureBootKey?: Uint8Array;
  forceConfigSector?: boolean;
  predictBoot?: BootPredictor;
  /**
   * The public key (64-byte X‖Y) of the key store's signing key: with secure boot on, or turned on
   * by this plan's digest image, the partition table and the app must carry its signature.
   */
  signingPublicKey?: Uint8Array;
  /** Where that key is (the store's PEM file or token reference), for the message. */
  signingKeyLabel?: string;
  /** How the user knows `flashKey` / `secureBootKey` (a file of the key store), for diagnoses. */
  flashKeyLabel?: string;
  secureBootKeyLabel?: string;
  /**
   * Other keys tried when a region does not decrypt or a digest does not match (the key store's
   * shared key when the board has its own, a readable key block's key): the diagnosis names the one
   * that holds (diagnose.ts).
   */
  otherFlashKeys?: readonly NamedKey[];
  otherSecureBootKeys?: readonly NamedKey[];
  /**
   * The partition table on the board at 0x8000 (read and decrypted with `flashKey` when flash
   * encryption is on), for a plan that brings no table of its own and no known layout; undefined
   * when the board holds none that parses. Asked only when a region lies past the table.
   */
  boardPartitions?: () => Promise<readonly PartitionEntry[] | undefined>;
}

export interface CheckReport {
  /** Non-fatal remarks (e.g. size not checked because the table was unreadable). */
  notes: string[];
  /** Plaintext of each region as the chip will read it (decrypted when encrypted and a key was known). */
  plaintext: Map<PlanRegion, Uint8Array>;
}

const KIND_TEXT: Record<ContentKind, string> = {
  image: 'an ESP32 app image',
  'digest-image': 'a secure boot digest + bootloader image',
  'partition-table': 'a partition table',
  unknown: 'valid content',
};

function refuse(code: string, msg: string): never {
  throw new UserError(code, msg);
}

function end(r: PlanRegion): number {
  return r.address + r.data.length;
}

function decryptAt(data: Uint8Array, address: number, key: Uint8Array, conf: number): Uint8Array {
  const whole = data.length - (data.length % 16);
  return decryptFlashData(data.subarray(0, whole), { key, address, flashCryptConf: conf });
}

/**
 * The flash size a plan is checked against: the connected chip's; without a board, the size the
 * plan's layout is made for, else the smallest module of its board (board catalog).
 */
function planFlashSize(plan: FlashPlan, ctx: CheckContext): number | undefined {
  if (ctx.chip?.flashSize !== undefined) return ctx.chip.flashSize;
  if (plan.layout) return layout(plan.layout).flashSize;
  return plan.board ? boardFlashSize(plan.board) : undefined;
}

/**
 * A region outside the chip's flash (E_PLAN_FLASH_SIZE): checked first, before any file is
 * decrypted, since no other finding about a file matters when its address is not on the board.
 */
function checkFlashSize(plan: FlashPlan, ctx: CheckContext): void {
  const flashSize = ctx.chip?.flashSize;
  if (flashSize === undefined) return;
  for (const r of plan.regions) {
    if (end(r) <= flashSize) continue;
    const where = r.address >= flashSize ? `starts at ${hex(r.address)}, beyond` : `ends at ${hex(end(r))}, past the end of`;
    refuse('E_PLAN_FLASH_SIZE', `${describeRegion(r)} ${where} this board's ${flashSize / 0x100000} MB of flash (its last address is ${hex(flashSize - 1)}): give an address inside the flash, or check that the address, the file and the board are the ones you meant; nothing was written.`);
  }
}

/** Static checks: alignment, overlaps, the config sector, sizes against the flash and the table. */
function checkLayout(plan: FlashPlan, ctx: CheckContext, map: FlashMap | undefined, plaintext: Map<PlanRegion, Uint8Array>, notes: string[]): void {
  const sorted = [...plan.regions].sort((a, b) => a.address - b.address);
  for (const r of sorted) {
    // Writes erase whole 4 KB sectors: an unaligned start would erase bytes before it.
    if (r.address % SECTOR_SIZE !== 0) {
      refuse('E_PLAN_ALIGN', `${describeRegion(r)} does not start on a 4 KB sector boundary (0x1000); writing it would erase data before it, so give an aligned address.`);
    }
    if (r.encrypted && r.address % 32 !== 0) refuse('E_PLAN_ALIGN', `${describeRegion(r)}: encrypted data must start on a 32-byte boundary.`);
    if (!ctx.forceConfigSector && r.address < CONFIG_SECTOR_ADDRESS + SECTOR_SIZE && end(r) > CONFIG_SECTOR_ADDRESS) {
      refuse('E_PLAN_CONFIG_SECTOR', `${describeRegion(r)} would overwrite the config sector at 0x3FF000, which holds this module's LoRa/Sigfox identity (MAC, Sigfox ID/PAC); remove it from the plan, or pass --force-config-sector if you really mean to restore that sector.`);
    }
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (end(a) > b.address) refuse('E_PLAN_OVERLAP', `${describeRegion(a)} overlaps ${describeRegion(b)}; each byte of flash can come from one file only.`);
  }
  for (const r of sorted) {
    if (r.role === 'bootloader-digest' && end(r) > PARTITION_TABLE_ADDRESS) {
      refuse('E_PLAN_TOO_BIG', `${describeRegion(r)} runs into the partition table at 0x8000; the bootloader must end before it.`);
    }
    if (r.role === 'partition-table' && r.data.length > SECTOR_SIZE) {
      refuse('E_PLAN_TOO_BIG', `${describeRegion(r)} is larger than the 4 KB partition-table sector.`);
    }
    if (r.address < 0x9000) continue;
    if (!map) {
      notes.push(`The size of ${describeRegion(r)} was not checked against a partition table (the plan has none, and none was read from a board).`);
      continue;
    }
    const place = placeAt(map, r.address);
    if (place?.kind === 'partition' && end(r) > place.entry.offset + place.entry.size) {
      const p = place.entry;
      // A build's file too big for its partition is the build not fitting the layout; a single file given by address is that file.
      const over = end(r) - (p.offset + p.size);
      refuse('E_PLAN_TOO_BIG', `${describeRegion(r)} is larger than the "${p.label}" partition it goes into (${hex(p.offset)}, ${p.size} bytes)${plan.buildDir
        ? '; the build does not fit this layout.'
        : `, by ${over} bytes; give a file that fits the "${p.label}" partition, or the address of a partition large enough for it.`}`);
    }
    if (place?.kind === 'firmware') {
      const f = place.region;
      if (end(r) > f.offset + f.size) {
        refuse('E_PLAN_TOO_BIG', `${describeRegion(r)} ends at ${hex(end(r))}, past the end of "${f.name}" at ${hex(f.offset + f.size)}, so it would overwrite what lies after it; give a file of at most ${f.offset + f.size - r.address} bytes for ${hex(r.address)}; nothing was written.`);
      }
    }
  }
  if (!map) return;
  for (const r of sorted) checkAppAddress(r, plaintext.get(r)!, map.partitions);
  for (const r of sorted) checkPartitionPlace(r, map);
}

const span = (e: PartitionEntry): string => `${hex(e.offset)}-${hex(e.offset + e.size)}`;

/**
 * Where a region may start in the flash map (place.ts flashMap: the partition table, the plan's
 * own, its layout's, or the board's, plus the regions Pycom's firmware keeps outside it): not
 * strictly inside an app partition (E_PLAN_INSIDE_APP), since the bootloader
 * checks the whole app (its checksum, SHA-256 and, with secure boot, its signature) and a part
 * written over its middle makes it fail, so an app is written whole from its partition's start;
 * and not outside every partition and every such region (E_PLAN_OUTSIDE_TABLE): nothing the
 * bootloader or the firmware reads is there, so it is refused as most likely a wrong address
 * (conservative); the sentence names the regions the firmware keeps outside the table (the 8 MB
 * modules' /flash, "fs1" at 0x400000), since restoring one of those is the usual reason to write
 * past the table. Regions below 0x9000 (bootloader, digest image, table) and the config sector
 * (E_PLAN_CONFIG_SECTOR, checked before) are not judged here.
 */
function checkPartitionPlace(r: PlanRegion, map: FlashMap): void {
  if (r.address < PARTITION_TABLE_ADDRESS + SECTOR_SIZE || r.role === 'config') return;
  const place = placeAt(map, r.address);
  const partitions = map.partitions;
  const at = place?.kind === 'partition' ? place.entry : undefined;
  if (at && at.type === PARTITION_TYPE_APP && at.offset !== r.address) {
    refuse('E_PLAN_INSIDE_APP', `${describeRegion(r)} starts inside the "${at.label}" app partition (${span(at)}), not at its start, so the app there would fail its checksum and signature check and the board would not start it; write the whole app at ${hex(at.offset)} (\`flash --build DIR\`, with --incremental to send only what differs); nothing was written.`);
  }
  if (!place) {
    const list = partitions.map((e) => `"${e.label}" ${span(e)}`).join(', ');
    const fixed = map.outsideTable.length
      ? `and outside ${map.outsideTable.map((f) => describeFirmwareRegion(f)).join(' and ')}, the only ${map.outsideTable.length > 1 ? 'regions' : 'region'} Pycom's firmware keeps outside this table`
      : 'and Pycom\'s firmware keeps no region of its own outside this table';
    refuse('E_PLAN_OUTSIDE_TABLE', `${describeRegion(r)} lies outside every partition of the partition table (${list}) ${fixed}, so nothing the bootloader or the firmware reads is there and the address is most likely a mistake; give the address of the partition or region the file is for, or flash a partition table that has a partition there first; nothing was written.`);
  }
}

const mb = (bytes: number): string => `${bytes / 0x100000} MB`;
const ota0 = (entries: readonly PartitionEntry[]): number | undefined => entries.find((e) => e.type === 0 && e.subtype === SUBTYPE.OTA_0)?.offset;
/** What a table (`theirs`) puts elsewhere than the board's layout (`ours`), for E_PLAN_TABLE_SIZE: "ota_0 at 0x1C0000 instead of 0x210000 and the file system elsewhere". */
function whatMoves(theirs: readonly PartitionEntry[], ours: readonly PartitionEntry[] | undefined): string {
  const a = ota0(theirs);
  const b = ours ? ota0(ours) : undefined;
  return a !== undefined && b !== undefined ? `ota_0 at ${hex(a)} instead of ${hex(b)} and the file system elsewhere` : 'the app slots and the file system elsewhere';
}

/**
 * A partition table given as ADDR FILE that is one of Pycom's (catalog layoutsMatching) must be
 * one the catalog gives the board's flash size (layoutsForFlashSize over every layout), or it is
 * refused (E_PLAN_TABLE_SIZE) naming the layout's flash size and ota_0, the board's flash size
 * and the table to use. Refused, with no flag to allow it: on an 8 MB module the 4MB layout
 * moves ota_0 (0x210000 to 0x1C0000) and the file system, so the OTA images and firmware made
 * for the board (which follow its flash size) no longer fit; firmware that did use the 4 MB
 * layout on 8 MB modules (1.20.0.rc11 and older) is flashed with --build, where its generation
 * decides the table. A table of one's own (no catalog match) is only checked to fit the flash.
 */
function checkTableFlashSize(r: PlanRegion, entries: readonly PartitionEntry[], flashSize: number): void {
  const matched = layoutsMatching(entries);
  if (!matched.length) return;
  const fit = layoutsForFlashSize(layouts().map((l) => l.id), flashSize);
  if (fit.length === 0 || matched.some((l) => fit.includes(l.id))) return;
  // The table Era D (1.20.1-1.20.2) builds for this flash size: lib/partitions_8MB.bin_enc on 8 MB.
  const d = new Set(catalog().boards.flatMap((x) => x.generations.D.layouts));
  const want = tableOutputs(GENERATIONS.D, fit.filter((l) => d.has(l)))[0];
  const moves = whatMoves(matched[0]!.entries, want ? layout(want.layout).entries : undefined);
  refuse('E_PLAN_TABLE_SIZE', `${describeRegion(r)} is Pycom's partition table for ${mb(matched[0]!.flashSize)} modules, but this board has ${mb(flashSize)} of flash, so it would put ${moves}; flash the build's table for ${mb(flashSize)}${want ? ` (${want.file})` : ''} instead, or the whole build with --build DIR, which picks the table for the board's flash size; nothing was written.`);
}

/**
 * A build's table, picked by its file name for the board's flash size (plan.ts pickTable), must hold
 * that layout: when its entries are another of Pycom's layouts (catalog layoutsMatching; a 4 MB
 * table copied over lib/partitions_8MB.bin_enc) it is refused (E_PLAN_TABLE_SIZE), naming both
 * layouts' flash sizes and ota_0, since written it would move ota_0 and the file system. A table
 * that matches no catalog layout (one of the user's own) is left to the other checks.
 */
function checkTableIsLayout(r: PlanRegion, entries: readonly PartitionEntry[], want: LayoutId): void {
  const matched = layoutsMatching(entries);
  if (!matched.length || matched.some((l) => l.id === want)) return;
  const named = layout(want);
  const moves = whatMoves(matched[0]!.entries, named.entries);
  refuse('E_PLAN_TABLE_SIZE', `${describeRegion(r)} is named for ${mb(named.flashSize)} modules but holds Pycom's partition table for ${mb(matched[0]!.flashSize)} modules (a file copied over it, or a build tree mixed up), so it would put ${moves}; build again (pycom-secure build) or restore the file from the build; nothing was written.`);
}

/** Partition type of app partitions (factory, ota_N) in the binary table (ESP-IDF esp_partition.h). */
const PARTITION_TYPE_APP = 0;

/**
 * An app image (plaintext magic 0xE9, as the chip reads it) must start where the table has an app
 * partition (factory or ota_N): the bootloader starts apps only from the start of one, and
 * anywhere else it would overwrite what is there (nvs, otadata, the file system). The bootloader
 * and digest images at their fixed addresses (0x1000, 0x0) are not apps; other files are judged
 * by the other rules. Throws E_PLAN_APP_ADDRESS naming the address, what the table has there and
 * the app partitions' addresses.
 */
function checkAppAddress(r: PlanRegion, plain: Uint8Array, partitions: readonly PartitionEntry[]): void {
  const app = r.role === 'app' || r.role === 'ota-copy' || (r.role === 'data' && plain[0] === 0xe9 && classifyContent(plain).kind === 'image');
  if (!app) return;
  const apps = partitions.filter((e) => e.type === PARTITION_TYPE_APP);
  if (apps.some((e) => e.offset === r.address)) return;
  const at = partitions.find((e) => r.address >= e.offset && r.address < e.offset + e.size);
  const kind = (e: PartitionEntry) => (e.type === PARTITION_TYPE_APP ? 'app' : 'data');
  const there = !at
    ? `the partition table has nothing at ${hex(r.address)}`
    : at.offset === r.address
      ? `${hex(r.address)} is the "${at.label}" ${kind(at)} partition in the partition table`
      : `${hex(r.address)} is inside the "${at.label}" ${kind(at)} partition (${hex(at.offset)}-${hex(at.offset + at.size)}) in the partition table`;
  const where = apps.length
    ? `write it at an app partition's address (${apps.map((e) => `"${e.label}" at ${hex(e.offset)}`).join(', ')})`
    : 'the table has no app partition, so flash a partition table that has one first';
  refuse('E_PLAN_APP_ADDRESS', `${describeRegion(r)} is an app image, but ${there}, so the bootloader would never start it and the write would overwrite what is there; ${where}.`);
}

/**
 * The refusal of a region on a board whose keys were burned under the 3/4 coding scheme, or
 * undefined on any other board: checked first wherever a check would otherwise blame a key (no
 * build of this tool can match a 192-bit key, coding-support.ts).
 */
function codingRefusal(chip: ChipSecurity | undefined, region: string): string | undefined {
  if (!chip) return undefined;
  const keysBurned = chip.emptyKeyBlocks ? !(chip.emptyKeyBlocks.blk1 && chip.emptyKeyBlocks.blk2) : chip.flashEncryption || chip.secureBoot;
  const cause = codingSchemeCause(chip.codingScheme, keysBurned);
  return cause && `${region} cannot boot on this board: ${cause}; nothing was written.`;
}

/**
 * Whether a region's bytes are what its role needs, as the chip reads them (`plaintext`): an
 * encrypted one that is not is diagnosed (diagnose.ts diagnoseDecryption: address, key,
 * FLASH_CRYPT_CONFIG). An encrypted region whose role needs no particular content (data) is
 * refused when it is an app image, partition table or digest image encrypted for another known
 * address (diagnoseMisplaced): written here, it would overwrite what is there with bytes nothing
 * reads. Errors: E_CODING_34, E_PLAN_DECRYPT, E_PLAN_CONTENT.
 */
function checkContent(r: PlanRegion, plaintext: Map<PlanRegion, Uint8Array>, ctx: CheckContext, conf: number): void {
  const want = EXPECTED_CONTENT[r.role];
  const key = (): NamedKey => ({ label: ctx.flashKeyLabel ?? 'the board\'s key', key: ctx.flashKey! });
  if (!want) {
    if (!r.encrypted) return;
    const misplaced = diagnoseMisplaced({ data: r.data, address: r.address, key: key(), conf, region: describeRegion(r) });
    if (misplaced) refuse('E_PLAN_DECRYPT', misplaced.message);
    return;
  }
  const got = classifyContent(plaintext.get(r)!);
  if (got.kind === want) return;
  if (r.encrypted) {
    const coding = codingRefusal(ctx.chip, describeRegion(r));
    if (coding) refuse('E_CODING_34', coding);
    // Test each cause (address, key, FLASH_CRYPT_CONFIG) and name the one that holds (issue 12 item 4).
    refuse('E_PLAN_DECRYPT', diagnoseDecryption({
      data: r.data, address: r.address, want, role: r.role, region: describeRegion(r), conf, key: key(),
      ...(ctx.otherFlashKeys ? { otherKeys: ctx.otherFlashKeys } : {}),
    }).message);
  }
  refuse('E_PLAN_CONTENT', `${describeRegion(r)} is not ${KIND_TEXT[want]} (${got.problem ?? `it is ${KIND_TEXT[got.kind]}`}); check the file and the address.`);
}

/**
 * ADDR FILE pairs: plan.ts guessRole calls an encrypted file at a 64 KB-aligned address from
 * 0x10000 on an app, having nothing else to go by. With the partition table known, such a region
 * that is not at the start of an app partition and does not decrypt to an app image at its address
 * is data (the bytes of whatever partition, or none, is there), so it is judged as data: an app
 * image found encrypted for another address is named (checkContent), and the region is refused
 * inside an app partition or outside the table (checkLayout). Changes the regions' `role` in place,
 * so the messages and the board's record describe them as judged.
 */
function settleGuessedApps(plan: FlashPlan, partitions: readonly PartitionEntry[], plaintext: Map<PlanRegion, Uint8Array>): void {
  for (const r of plan.regions) {
    if (r.role !== 'app' || !r.encrypted) continue;
    if (partitions.some((e) => e.type === PARTITION_TYPE_APP && e.offset === r.address)) continue;
    if (classifyContent(plaintext.get(r)!).kind === 'image') continue; // an app: checkAppAddress says where it may go
    r.role = 'data';
  }
}

export async function checkPlan(plan: FlashPlan, ctx: CheckContext = {}): Promise<CheckReport> {
  const notes: string[] = [];
  const plaintext = new Map<PlanRegion, Uint8Array>();
  const conf = ctx.chip?.flashCryptConf ?? 0xf;
  checkFlashSize(plan, ctx);

  // 1. What each file is, as the chip will read it (decrypting encrypted ones at their address).
  for (const r of plan.regions) {
    if (r.data.length === 0) {
      refuse('E_PLAN_EMPTY', `${describeRegion(r)} is an empty file (0 bytes): nothing of it was written by the build (a build cut off, or a failed copy); build again, or copy the file again from the build.`);
    }
    if (!r.encrypted) {
      plaintext.set(r, r.data);
      continue;
    }
    if (!ctx.flashKey) {
      refuse('E_PLAN_NO_KEY', `${describeRegion(r)} is encrypted but there is no flash-encryption key for this board in the key store, so it cannot be checked; add the key (or use the board's key store) before flashing.`);
    }
    if (r.data.length % 16 !== 0) {
      // A build's encrypted output is always whole blocks: one that is not was cut off after the build.
      const damaged = plan.buildDir ? diagnoseDamage({ data: r.data, address: r.address, region: describeRegion(r), conf }, []) : undefined;
      refuse('E_PLAN_DECRYPT', damaged ?? `${describeRegion(r)} is not a whole number of 16-byte blocks, so it is not a flash-encryption output.`);
    }
    plaintext.set(r, decryptAt(r.data, r.address, ctx.flashKey, conf));
  }
  // 2. The partition table the plan is checked against (the plan's own, checked first; its layout;
  // or, for ADDR FILE pairs, the one on the board), before the other files' content: where a file
  // goes decides what it must be.
  const table = plan.regions.find((r) => r.role === 'partition-table');
  if (table) checkContent(table, plaintext, ctx, conf);
  let partitions: readonly PartitionEntry[] | undefined;
  if (table) {
    const t = parsePartitionTable(plaintext.get(table)!.subarray(0, TABLE_MAX_LEN), describeRegion(table));
    // As gen_esp32part.py checks it, against the chip's flash or, without a board, the catalog's.
    validatePartitionTable(t, describeRegion(table), planFlashSize(plan, ctx));
    // A build's plan took its table by the flash size already (plan.ts pickTable).
    if (!plan.buildDir && ctx.chip?.flashSize !== undefined) checkTableFlashSize(table, t.entries, ctx.chip.flashSize);
    // It took it by the file's name: the table inside must be that layout (a copy over another size's file is not).
    if (plan.buildDir && plan.layout) checkTableIsLayout(table, t.entries, plan.layout);
    partitions = t.entries;
  }
  else if (plan.layout) partitions = layout(plan.layout).entries;
  else if (ctx.boardPartitions && plan.regions.some((r) => r.address >= PARTITION_TABLE_ADDRESS + SECTOR_SIZE)) {
    // ADDR FILE pairs: the table already on the board says where each app partition ends.
    partitions = await ctx.boardPartitions();
    if (partitions) notes.push('Sizes checked against the partition table on the board (0x8000).');
  }
  if (!plan.buildDir && partitions) settleGuessedApps(plan, partitions, plaintext);
  // Content refusals name the file alone, as the build's own checks (provision, OTA images) do.
  for (const r of plan.regions) if (r !== table) checkContent(r, plaintext, ctx, conf);
  // Where each region goes, for the later messages and the plan shown (describeRegion).
  const map = partitions ? flashMap(partitions, plan.layout) : undefined;
  if (map) for (const r of plan.regions) if (r.address >= PARTITION_TABLE_ADDRESS + SECTOR_SIZE) r.place = placeAt(map, r.address);

  checkLayout(plan, ctx, map, plaintext, notes);

  // 3. The chip's encryption state must match what each file is.
  const chip = ctx.chip;
  if (chip) {
    for (const r of plan.regions) {
      if (chip.flashEncryption && !r.encrypted && readThroughEncryption(r, map)) {
        refuse('E_PLAN_PLAINTEXT', `${describeRegion(r)} is plaintext, but flash encryption is on: the chip would decrypt it into garbage (the "flash read err, 1000" boot loop); ${plaintextWayOn(r, chip.secureBoot)}.`);
      }
      if (!chip.flashEncryption && r.encrypted) {
        // On a 3/4 board the way on is not Burn Keys (it refuses such a board, coding-support.ts).
        const coding = unsupportedCodingScheme(chip.codingScheme);
        if (coding) refuse(coding.code, `${describeRegion(r)} is encrypted, but flash encryption is off on this chip, and ${coding.what}, so this tool does not secure this board (efuse burn-keys refuses it); flash plaintext firmware instead; nothing was written.`);
        refuse('E_PLAN_ENCRYPTED', `${describeRegion(r)} is encrypted, but flash encryption is off on this chip, so it would be read as garbage; burn the keys first (\`pycom-secure efuse burn-keys\`, which also turns flash encryption on), then flash this build.`);
      }
    }
    checkSelfProvisioning(plan, chip, plaintext);
    if (chip.secureBoot) {
      for (const r of plan.regions) {
        if (r.address < PARTITION_TABLE_ADDRESS && !(r.role === 'bootloader-digest' && r.address === 0)) {
          refuse('E_PLAN_BOOTLOADER', `${describeRegion(r)}: secure boot is on, and below 0x8000 only the reflashable digest image (bootloader-reflash-digest.bin_enc at 0x0) may be written; anything else there stops the chip from booting.`);
        }
      }
    }
  }

  // 4. The digest must be made with the key in BLOCK2, or the ROM prints "secure boot check fail".
  if (ctx.secureBootKey) {
    for (const r of plan.regions.filter((x) => x.role === 'bootloader-digest')) {
      const p = plaintext.get(r)!;
      const image = p.subarray(0x1000, 0x1000 + Math.floor((p.length - 0x1000) / 128) * 128);
      const digest = computeBootloaderDigest(ctx.secureBootKey, p.subarray(0, 128), image);
      if (!Buffer.from(digest).equals(Buffer.from(p.subarray(0x80, 0xc0)))) {
        const coding = codingRefusal(ctx.chip, describeRegion(r));
        if (coding) refuse('E_CODING_34', coding);
        refuse('E_PLAN_DIGEST_KEY', diagnoseDigest(p, { label: ctx.secureBootKeyLabel ?? 'the one in BLOCK2', key: ctx.secureBootKey }, ctx.otherSecureBootKeys ?? [], describeRegion(r)));
      }
    }
  }

  // 4b. A secure boot v1 bootloader verifies the partition table's and the app's signatures with
  // the public key built into it (ESP-IDF v3 secure boot docs: "Verifying partition table
  // signature", "Secure boot signature verification failed"); Pycom's build builds in the key that
  // signs, the key store's. A table or app signed with another key, or not at all, never boots.
  const secureBootComing = ctx.chip?.secureBoot === true || plan.regions.some((r) => r.role === 'bootloader-digest');
  if (ctx.signingPublicKey && secureBootComing) {
    for (const r of plan.regions.filter((x) => x.role === 'partition-table' || x.role === 'app' || x.role === 'ota-copy')) {
      const status = bootSignatureStatus(plaintext.get(r)!, ctx.signingPublicKey);
      if (status === undefined || status === 'valid') continue; // content judged above
      const key = `${ctx.signingKeyLabel ?? "the key store's signing key"} (fingerprint ${fingerprint(ctx.signingPublicKey)})`;
      const line = r.role === 'partition-table' ? 'Failed to verify partition table signature' : 'Secure boot signature verification failed';
      refuse('E_PLAN_SIGNATURE', `${describeRegion(r)} is ${status === 'other-key' ? `signed with another key than ${key}` : `not signed (no signature block where the bootloader reads it), so it does not verify with ${key}`}: with secure boot on, the bootloader stops with "${line}" and the board does not boot; build it again signed with that key (\`pycom-secure build --signing-key\` naming it).`);
    }
  }

  // 5. Finally: would the device boot afterwards?
  if (ctx.predictBoot) {
    const p = await ctx.predictBoot(plan);
    const coding = p.boots ? undefined : codingRefusal(ctx.chip, 'This plan');
    if (coding) refuse('E_CODING_34', coding);
    if (!p.boots) refuse('E_PLAN_NO_BOOT', `After this plan the device would not boot: ${p.reason ?? 'the boot prediction failed'}; nothing was written.`);
  } else {
    notes.push('Boot prediction was not run.');
  }
  return { notes, plaintext };
}

/**
 * First-boot self-provisioning is a refused plan (issue 12 A): a bootloader that would find its
 * key block empty generates a random key on the chip, burns and read-protects it; nobody ever
 * knows it, a secure boot bootloader can then never be replaced, and only 3 plaintext re-flashes
 * remain (ESP-IDF bootloader_support; the warning in Pycom's "SecureBoot and Encryption" docs). A
 * plaintext region at 0x0 or 0x1000
 * that is the reflashable digest image (always a Pycom SECURE=on bootloader: secure boot and
 * flash encryption, whatever its strings say, since that bootloader prints nothing), or a
 * bootloader whose strings say it enables secure boot or flash encryption, is refused (E_PLAN_SELF_PROVISION)
 * when the block it would fill is empty and the feature is not on yet. Encrypted regions are left
 * to the encryption-state check (a chip with encryption off reads them as garbage).
 */
function checkSelfProvisioning(plan: FlashPlan, chip: ChipSecurity, plaintext: Map<PlanRegion, Uint8Array>): void {
  const empty = chip.emptyKeyBlocks;
  if (!empty) return;
  for (const r of plan.regions) {
    if (r.encrypted || r.address >= PARTITION_TABLE_ADDRESS) continue;
    if (r.role !== 'bootloader-digest' && r.role !== 'bootloader') continue;
    const p = plaintext.get(r)!;
    const digest = r.role === 'bootloader-digest';
    const profile = provisioningProfile(digest ? p.subarray(0x1000) : p, digest && r.address === 0 ? p.subarray(0, 0x1000) : undefined);
    const blocks = [
      profile.secureBoot && !chip.secureBoot && empty.blk2 ? 'BLOCK2 (secure boot key)' : '',
      profile.flashEncryption && !chip.flashEncryption && empty.blk1 ? 'BLOCK1 (flash-encryption key)' : '',
    ].filter(Boolean);
    if (!blocks.length) continue;
    refuse(
      'E_PLAN_SELF_PROVISION',
      `${describeRegion(r)} is a secure bootloader, and ${blocks.join(' and ')} ${blocks.length > 1 ? 'are' : 'is'} empty on this board, so on first boot it would generate ${blocks.length > 1 ? 'those keys' : 'that key'} itself, burn and read-protect ${blocks.length > 1 ? 'them' : 'it'} (nobody would ever know ${blocks.length > 1 ? 'them' : 'it'}${profile.secureBoot && !chip.secureBoot && empty.blk2 ? ', the bootloader could never be replaced' : ''}${profile.flashEncryption && !chip.flashEncryption && empty.blk1 ? ', only 3 plaintext re-flashes would remain' : ''}); burn your keys first with \`pycom-secure efuse burn-keys\` ("Pycom: Burn Keys" in the editor), then flash again; nothing was written.`,
    );
  }
}

/** Whether the chip reads this region through the decrypting cache (so it must be ciphertext). */
function readThroughEncryption(r: PlanRegion, map: FlashMap | undefined): boolean {
  if (r.role === 'config') return false;
  if (r.role !== 'data') return true;
  const p = map && placeAt(map, r.address);
  // Unknown place: assume it is encrypted, the conservative answer.
  return p ? placeEncrypted(p) : true;
}

/**
 * What to write instead of a plaintext file at `r.address` on a chip with flash encryption on,
 * by what the file is (image/file-kind.ts): a bootloader goes in as the build's digest image at
 * 0x0 when secure boot v1 is on (esp32-boot-security: the reflashable bootloader is written with
 * its digest, encrypted, from 0x0; nothing else may be written below 0x8000), else encrypted for
 * 0x1000; any other file encrypted for its address.
 */
function plaintextWayOn(r: PlanRegion, secureBoot: boolean): string {
  const id = identifyFile(r.data);
  const viaBuild = '`flash --build DIR` picks the build\'s encrypted files';
  if (id.kind === 'bootloader' || id.kind === 'digest-image') {
    const what = `${path.basename(r.file)} is ${id.what}`;
    return secureBoot
      ? `${what}, and with secure boot on the bootloader goes onto this board only as the build's ${DIGEST_FILE} at 0x0 (the bootloader with its digest, encrypted); ${viaBuild}`
      : `${what}: use it encrypted for ${hex(BOOTLOADER_ADDRESS)} (\`encrypt-flash-data --address ${hex(BOOTLOADER_ADDRESS)}\`); ${viaBuild}`;
  }
  if (id.kind === 'app' || id.kind === 'partition-table') return `use the file encrypted for ${hex(r.address)} (${path.basename(r.file)} is ${id.what}); ${viaBuild}`;
  // Data a build does not hold (a file system image, NVS): encrypted for its address by hand.
  return `encrypt it for ${hex(r.address)} with the board's flash key first (\`encrypt-flash-data --keyfile KEY.bin --address ${hex(r.address)} --output OUT ${path.basename(r.file)}\`) and flash that`;
}
