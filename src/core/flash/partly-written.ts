import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { readBoardRecords } from '../audit/board-record';
import type { KeyStore } from '../keystore/key-store';
import { hex } from '../util/hex';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN } from '../chip/esp32';
import { ENTRY_MAGIC, ENTRY_SIZE, MD5_MAGIC } from '../partition/table';
import type { JournalEntry } from './journal';
import type { PlanRegion, RegionRole } from './plan';
import { boardJournal } from './session';
import type { FlashIo } from './writer';

/**
 * An interrupted write, found by a test on the board rather than guessed (a region that does not
 * decrypt is otherwise blamed on the key): the ROM erases a whole region on FLASH_BEGIN and then
 * programs it block by block from its start (esptool's write_flash without the stub), so a write
 * cut off part-way leaves the region's first bytes written and the rest erased (0xFF).
 */
export interface PartlyWritten {
  /** Where the region starts. */
  address: number;
  /** Bytes the interrupted write was to put there (the journal's length), when known. */
  length?: number;
  /** Bytes at the start of the region before its erased tail (measured on the board, to 32 bytes); undefined when the tail is not erased. */
  written?: number;
  /** The build file, when the journal names it. */
  file?: string;
  /** When the interrupted write began (the journal's ISO time). */
  startedAt?: string;
  /**
   * How it is known: `journal` (the key store's flash journal says the write began and never
   * finished, and the board confirms it does not hold those bytes), `file` (the board holds the
   * file's first bytes, then erased flash) or, without a journal or file, from the board's own
   * content: `image` (the region starts as a valid image, or holds one at `imageAt`, but the flash
   * is erased where the image goes on), `digest` (the secure boot digest block at the region's
   * start is written, but the flash is erased from before its bootloader at 0x1000 on), `table`
   * (the partition table's entries end in erased flash where the table goes on).
   */
  source: 'journal' | 'file' | 'image' | 'digest' | 'table';
  /** `image` inside the region (the bootloader at 0x1000 of the digest image at 0x0): where that image starts. */
  imageAt?: number;
  /** `table`: the valid entries before the erased flash, and whether its MD5 entry is among them. */
  table?: {
    entries: number;
    md5: boolean;
    /**
     * Plaintext flash only: the entries end in erased flash without an MD5 entry, which is also how
     * a table made without one (gen_esp32part --disable-md5sum) ends, so both are said.
     */
    orNoMd5?: boolean;
  };
  /** The run that began the write (its board record), when the audit log has one. */
  run?: { id: string; operation: string; result: string };
}

type BoardIo = Pick<FlashIo, 'read' | 'md5'>;

const REGION_NAME: Partial<Record<RegionRole, string>> = {
  'bootloader-digest': 'the bootloader and its digest',
  bootloader: 'the bootloader',
  'partition-table': 'the partition table',
  app: 'the app',
  'ota-copy': 'the OTA copy',
};

/** A region's name in a sentence: "the app", "the partition table". */
export function regionName(role: RegionRole): string {
  return REGION_NAME[role] ?? `the ${role} region`;
}

const BLOCK = 32;

function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

const allErased = (d: Uint8Array): boolean => d.every((b) => b === 0xff);

/** Whether raw flash [address, address+length) is erased, by one SPI_FLASH_MD5. */
async function erasedRange(io: BoardIo, address: number, length: number): Promise<boolean> {
  return length <= 0 || (await io.md5(address, length)) === md5Hex(new Uint8Array(length).fill(0xff));
}

/**
 * Where the erased tail of raw flash [address, address+length) begins, relative to `address` (a
 * multiple of 32 bytes: 0 when the whole range is erased): a binary search over 32-byte blocks
 * read with READ_FLASH_SLOW (a written 32-byte block of ciphertext is never all 0xFF), confirmed by
 * one MD5 of the tail. Undefined when the range does not end in erased flash.
 */
export async function erasedTailStart(io: BoardIo, address: number, length: number): Promise<number | undefined> {
  const blocks = Math.ceil(length / BLOCK);
  if (blocks === 0) return undefined;
  const erasedBlock = async (i: number): Promise<boolean> => allErased(await io.read(address + i * BLOCK, Math.min(BLOCK, length - i * BLOCK)));
  if (!(await erasedBlock(blocks - 1))) return undefined;
  let lo = 0;
  let hi = blocks - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await erasedBlock(mid)) hi = mid;
    else lo = mid + 1;
  }
  const p = lo * BLOCK;
  return (await erasedRange(io, address + p, length - p)) ? p : undefined;
}

/**
 * The key store's record of writes to `mac` that began and did not finish (its flash journal),
 * each with the run that began it: the latest flash or provision record of the board that started
 * before the write did (`interrupted` when the process was killed, `failed` when the link was lost).
 */
export function unfinishedWrites(store: KeyStore, mac: string): Array<JournalEntry & { run?: PartlyWritten['run'] }> {
  const entries = boardJournal(store, mac).read();
  if (!entries.length) return [];
  const runs = readBoardRecords(store.auditPath, mac).filter((r) => r.operation === 'flash' || r.operation === 'provision');
  return entries.map((e) => {
    const run = runs.filter((r) => r.start <= e.startedAt).pop();
    return { ...e, ...(run ? { run: { id: run.id, operation: run.operation, result: run.result } } : {}) };
  });
}

/**
 * Tests the journal's claim on the board: the first unfinished write overlapping [address,
 * address+length) that the board confirms (its region ends in erased flash, or its MD5 is not the
 * MD5 of what the write was to put there). A write the board holds in full is not reported (the
 * region was finished some other way). Reads a few 32-byte blocks and one or two MD5s per write.
 */
export async function confirmUnfinishedWrite(io: BoardIo, store: KeyStore, mac: string, range: { address: number; length: number }): Promise<PartlyWritten | undefined> {
  for (const e of unfinishedWrites(store, mac)) {
    if (!(e.address < range.address + range.length && range.address < e.address + e.length)) continue;
    const base = { address: e.address, length: e.length, file: e.file, startedAt: e.startedAt, source: 'journal' as const, ...(e.run ? { run: e.run } : {}) };
    const tail = await erasedTailStart(io, e.address, e.length);
    if (tail !== undefined) return { ...base, written: tail };
    if ((await io.md5(e.address, e.length)) !== e.md5) return base;
  }
  return undefined;
}

/**
 * Without a journal, with the file at hand (verify-flash): whether the board holds the file's
 * first bytes at `address` and erased flash after them (two MD5s and a binary search). Undefined
 * when it does not (a region erased from its start is not "partly written": nothing of it is there).
 */
export async function partlyWrittenFile(io: BoardIo, address: number, data: Uint8Array, file?: string): Promise<PartlyWritten | undefined> {
  const tail = await erasedTailStart(io, address, data.length);
  if (tail === undefined || tail === 0 || tail >= data.length) return undefined;
  if ((await io.md5(address, tail)) !== md5Hex(data.subarray(0, tail))) return undefined;
  return { address, length: data.length, written: tail, source: 'file', ...(file ? { file } : {}) };
}

/**
 * Without a journal or a file (predict-boot): whether the image at `address` starts valid (its
 * header, in `plain`, the flash as the chip reads it) but the flash is erased (raw, in `io`) where
 * its segments go on, within `max` bytes. Walks the segment headers; at the first one that lies
 * in erased flash, measures the written part before it.
 */
export async function partlyWrittenImage(io: BoardIo, plain: (o: number, n: number) => Promise<Uint8Array>, address: number, max: number): Promise<PartlyWritten | undefined> {
  const h = await plain(address, 24);
  if (h[0] !== 0xe9 || h[1]! === 0 || h[1]! > 16) return undefined;
  let pos = 24;
  const erasedAt = async (offset: number): Promise<boolean> => {
    const at = (address + offset) & ~(BLOCK - 1);
    return allErased(await io.read(at, BLOCK));
  };
  for (let i = 0; i <= h[1]!; i++) {
    if (pos + 8 > max) return undefined;
    if (await erasedAt(pos)) {
      const end = Math.min(max, ((pos + 8 + BLOCK - 1) & ~(BLOCK - 1)));
      const written = await erasedTailStart(io, address, end);
      return written !== undefined && written > 0 ? { address, written, source: 'image' } : undefined;
    }
    if (i === h[1]!) return undefined;
    pos += 8 + Buffer.from(await plain(address + pos, 8)).readUInt32LE(4);
  }
  return undefined;
}

/**
 * Without a journal or a file (predict-boot), for the secure boot digest image written at 0x0
 * (digest block, then the bootloader at 0x1000, one file written from its start): its first
 * 32-byte block is written (raw, in `io`) and either the bootloader at 0x1000 starts valid (in
 * `plain`) but the flash is erased where it goes on (partlyWrittenImage, reported for the whole
 * region with `imageAt`), or the flash is erased from before 0x1000 (`digest`: the write was cut
 * off before the bootloader, or only a digest block was ever written there; the sentence says
 * both). Undefined when the region's start is erased (nothing of it is there) or neither holds.
 */
export async function partlyWrittenDigestImage(io: BoardIo, plain: (o: number, n: number) => Promise<Uint8Array>, address: number): Promise<PartlyWritten | undefined> {
  const imageAt = BOOTLOADER_ADDRESS;
  if (address >= imageAt || allErased(await io.read(address, BLOCK))) return undefined;
  if (!allErased(await io.read(imageAt, BLOCK))) {
    const cut = await partlyWrittenImage(io, plain, imageAt, BOOTLOADER_MAX_LEN);
    return cut ? { address, written: imageAt - address + cut.written!, source: 'image', imageAt } : undefined;
  }
  const written = await erasedTailStart(io, address, imageAt - address + BLOCK);
  return written !== undefined && written > 0 ? { address, written, source: 'digest' } : undefined;
}

/**
 * Without a journal or a file (predict-boot), for the partition table at `address` (up to `max`
 * bytes): walks its 32-byte entries as the chip reads them (`plain`) up to the first whose raw
 * block (in `io`) is erased, and reports a cut there when the flash stays erased to `max` and
 * every entry before it is one a table holds (an entry, the MD5 entry, or 0xFF padding after it).
 * With flash encryption (`encrypted`) a written block is never all 0xFF (the table's padding is
 * ciphertext too), so erased flash before `max` is an unfinished write, after the MD5 entry too.
 * In plaintext erased flash is also the table's end: only entries ending without an MD5 entry are
 * reported, with `orNoMd5` (a table made without one ends so too). Undefined when the first block
 * is erased (nothing of it is there), when an entry does not decode (another cause: key, address)
 * or when nothing is erased before `max`.
 */
export async function partlyWrittenTable(io: BoardIo, plain: (o: number, n: number) => Promise<Uint8Array>, address: number, max: number, encrypted: boolean): Promise<PartlyWritten | undefined> {
  let entries = 0;
  let md5 = false;
  for (let off = 0; off + ENTRY_SIZE <= max; off += ENTRY_SIZE) {
    if (allErased(await io.read(address + off, ENTRY_SIZE))) {
      if (off === 0 || (!encrypted && (md5 || entries === 0))) return undefined;
      if (!(await erasedRange(io, address + off, max - off))) return undefined;
      return { address, written: off, source: 'table', table: { entries, md5, ...(!encrypted ? { orNoMd5: true } : {}) } };
    }
    const e = Buffer.from(await plain(address + off, ENTRY_SIZE));
    const magic = e.readUInt16LE(0);
    if (magic === ENTRY_MAGIC && !md5) entries++;
    else if (magic === MD5_MAGIC && !md5) md5 = true;
    // The 0xFF padding after the MD5 entry (decrypted): the table's end, written.
    else if (!(md5 && e.every((b) => b === 0xff))) return undefined;
  }
  return undefined;
}

/**
 * How a front end says to finish an interrupted write: the clause after "; " in
 * partlyWrittenSentence, for a cut-off flash run and a cut-off provision run (no final stop).
 */
export interface RerunHints {
  flash: string;
  provision: string;
  /** How to flash a board that holds nothing yet where it boots from (an erased region), as a verb phrase. */
  firstFlash: string;
}

/** The CLI's way (the same command again); the default of partlyWrittenSentence. */
export const CLI_RERUN_HINTS: RerunHints = {
  flash: 'run the same `pycom-secure flash` again to finish it (the interrupted region is written again in full, with --incremental too)',
  provision: 'run the same `pycom-secure provision` again to finish it',
  firstFlash: 'flash the build (`pycom-secure flash --port PORT --build DIR`)',
};

/**
 * The sentence for a partly written region, `what` naming it ("the app"): what was tested, and
 * the way forward in the front end's words (`rerun`; the CLI's by default: the same command
 * again, a journalled region is rewritten in full, and --incremental then writes only what
 * differs elsewhere). Never suggests a key problem.
 */
export function partlyWrittenSentence(p: PartlyWritten, what: string, rerun: RerunHints = CLI_RERUN_HINTS): string {
  const at = `${what} at ${hex(p.address)}${p.file ? ` (${p.file})` : ''}`;
  const op = p.run?.operation === 'provision' ? 'provision' : 'flash';
  const again = rerun[op];
  const run = p.run ? `the ${op} run ${p.run.id} (${p.run.result})` : 'a flash';
  if (p.source === 'journal') {
    const began = `the key store's flash journal says ${run} began writing it${p.startedAt ? ` at ${p.startedAt}` : ''} and never finished`;
    if (p.written === undefined) return `${at} was only partly written: ${began}, and the board does not hold the ${p.length} bytes it was writing; ${again}.`;
    return `${at} was only partly written (flash interrupted at ${p.written} of ${p.length} bytes): ${began}, and the board holds ${p.written} bytes there, then erased flash; ${again}.`;
  }
  if (p.source === 'file') {
    return `${at} was only partly written (flash interrupted at ${p.written} of ${p.length} bytes): the board holds the file's first ${p.written} bytes, then erased flash; ${again}.`;
  }
  const from = hex(p.address + p.written!);
  if (p.source === 'digest') {
    return `${at} was only partly written (flash interrupted after ${p.written} bytes): its digest block is written, but the flash is erased from ${from} on, where its bootloader goes at ${hex(BOOTLOADER_ADDRESS)} (or only a digest block was ever written there); ${again}.`;
  }
  if (p.source === 'table') {
    const t = p.table!;
    const held = `${t.entries} valid entr${t.entries === 1 ? 'y' : 'ies'}${t.md5 ? ' and its MD5 entry' : ''}`;
    if (t.orNoMd5) return `${at} may be only partly written: it holds ${held}, then erased flash from ${from} on with no MD5 entry, which is how a write cut off before the MD5 entry ends, and also how a table made without one ends; if the build's table has an MD5 entry, ${again}.`;
    return `${at} was only partly written (flash interrupted after ${p.written} bytes): it holds ${held}, then erased flash from ${from} on, where the table goes on; ${again}.`;
  }
  const image = p.imageAt !== undefined && p.imageAt !== p.address ? `its image at ${hex(p.imageAt)} starts valid` : 'it starts as a valid image';
  return `${at} was only partly written (flash interrupted after ${p.written} bytes): ${image}, but the flash is erased from ${from} on, where the image goes on; ${again}.`;
}

/** The short cause for a boot verdict's reason: "the app at 0x10000 was only partly written (an interrupted flash)". */
export function partlyWrittenCause(p: PartlyWritten, what: string): string {
  const how = p.written === 0 ? `: cut off before any of its ${p.length} bytes was written, during its erase` : p.written !== undefined && p.length !== undefined ? `: ${p.written} of ${p.length} bytes` : '';
  if (p.table?.orNoMd5) return `${what} at ${hex(p.address)} ends without its MD5 entry (an interrupted flash, or a table made without one)`;
  return `${what} at ${hex(p.address)} was only partly written (an interrupted flash${how})`;
}

/**
 * verify-flash's test before any key is suspected: a region of the plan that the board holds only
 * partly (the journal's unfinished write confirmed on the board, or the file's first bytes then
 * erased flash). Returns the sentence (partlyWrittenSentence), or undefined.
 */
export async function diagnosePartlyWrittenRegion(io: BoardIo, store: KeyStore, mac: string, r: Pick<PlanRegion, 'address' | 'data' | 'file' | 'role'>): Promise<string | undefined> {
  const cut = (await confirmUnfinishedWrite(io, store, mac, { address: r.address, length: r.data.length })) ?? (await partlyWrittenFile(io, r.address, r.data, path.basename(r.file)));
  return cut ? partlyWrittenSentence(cut, regionName(r.role)) : undefined;
}
