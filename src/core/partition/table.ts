import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { hex } from '../util/hex';
import { keyMaterialInBytes } from '../keystore/key-material';
import { SIGNATURE_BLOCK_LEN, signatureBlockAt } from '../image/signature-block';

export { SIGNATURE_BLOCK_LEN };

/**
 * The ESP32 binary partition table (ESP-IDF partition tables docs, gen_esp32part.py): 32-byte
 * entries at 0x8000,
 * an MD5 record (magic 0xEBEB) over the preceding entries, then 0xFF up to 0xC00 bytes. A signed
 * table is those 0xC00 bytes followed by the 68-byte signature block (espsecure sign_data --version 1).
 */
export const TABLE_MAX_LEN = 0xc00;
export const ENTRY_SIZE = 32;
export const ENTRY_MAGIC = 0x50aa;
export const MD5_MAGIC = 0xebeb;
const FLAG_ENCRYPTED = 0x1;

export interface PartitionEntry {
  label: string;
  /** 0 app, 1 data. */
  type: number;
  subtype: number;
  offset: number;
  size: number;
  /** Flags bit 0. App partitions are encrypted by the hardware regardless of this flag. */
  encrypted: boolean;
}

export interface PartitionTable {
  entries: PartitionEntry[];
  /** Whether an MD5 record was present (and, when it was, it matched: a mismatch is an error). */
  hasMd5: boolean;
  /** Whether a v1 signature block is at 0xC00, where the bootloader reads it (image/signature-block.ts). */
  signed: boolean;
  /** MD5 rows seen (gen_esp32part writes one, after the last entry). */
  md5Rows?: number;
  /** Entries after the MD5 row: not covered by it. */
  entriesAfterMd5?: number;
  /** Whether a 0xFF row ends the entries within the 0xC00 bytes (gen_esp32part: "missing an end-of-table marker"). */
  endMarker?: boolean;
}

/** Whether the partition holds something the hardware reads through flash encryption. */
export function isEncryptedPartition(e: PartitionEntry): boolean {
  return e.type === 0 || e.encrypted;
}

/**
 * Parses a plaintext table. `what` names the source in messages (e.g. the file name).
 * Throws a UserError with the bootloader's own wording when it would refuse the table too.
 */
export function parsePartitionTable(bytes: Uint8Array, what = 'the partition table'): PartitionTable {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A key read as entries would have its bytes quoted as magic numbers, offsets and labels.
  const keyWhy = buf.length < 512 ? keyMaterialInBytes(buf) : undefined;
  if (keyWhy) throw new UserError('E_KEY_AS_DATA', `${what} holds key material (${keyWhy}), not a partition table; pass the partitions.bin the build wrote.`);
  if (buf.length < ENTRY_SIZE) {
    throw new UserError('E_PT_SHORT', `${what} is only ${buf.length} bytes; a partition table has at least one 32-byte entry.`);
  }
  const entries: PartitionEntry[] = [];
  let hasMd5 = false;
  let md5Rows = 0;
  let entriesAfterMd5 = 0;
  let endMarker = false;
  const limit = Math.min(buf.length, TABLE_MAX_LEN);
  let off = 0;
  for (; off + ENTRY_SIZE <= limit; off += ENTRY_SIZE) {
    const magic = buf.readUInt16LE(off);
    if (magic === 0xffff) {
      endMarker = true;
      break;
    }
    if (magic === MD5_MAGIC) {
      md5Rows++;
      const want = createHash('md5').update(buf.subarray(0, off)).digest();
      if (!want.equals(buf.subarray(off + 16, off + 32))) {
        throw new UserError('E_PT_MD5', `${what}: the MD5 record does not match the entries (the table is corrupt, or it was decrypted with the wrong key or address).`);
      }
      hasMd5 = true;
      continue;
    }
    if (magic !== ENTRY_MAGIC) {
      throw new UserError('E_PT_MAGIC', `${what}: partition ${entries.length} invalid magic number ${hex(magic)} (not a partition table, or encrypted data read as plaintext).`);
    }
    if (md5Rows > 0) entriesAfterMd5++;
    const rawLabel = buf.subarray(off + 12, off + 28);
    const nul = rawLabel.indexOf(0);
    entries.push({
      type: buf[off + 2]!,
      subtype: buf[off + 3]!,
      offset: buf.readUInt32LE(off + 4),
      size: buf.readUInt32LE(off + 8),
      label: rawLabel.subarray(0, nul < 0 ? 16 : nul).toString('latin1'),
      encrypted: (buf.readUInt32LE(off + 28) & FLAG_ENCRYPTED) !== 0,
    });
  }
  if (entries.length === 0) throw new UserError('E_PT_EMPTY', `${what} has no entries.`);
  const signed = signatureBlockAt(buf, TABLE_MAX_LEN).present;
  return { entries, hasMd5, signed, md5Rows, entriesAfterMd5, endMarker };
}

/** The data subtype of the OTA data partition ("otadata"). */
const SUBTYPE_OTA_DATA = 0x00;
/** First byte a partition may use: the table's sector at 0x8000 ends at 0x9000. */
const FIRST_PARTITION_OFFSET = 0x9000;

/**
 * Checks a table as Espressif's gen_esp32part.py (ESP-IDF components/partition_table) does before
 * it writes one, so a table that tool would refuse is never flashed: unique names; app partitions
 * at 64 KB (0x10000) offsets, data at 4 KB; nothing below 0x9000; no size 0; no overlaps; at most
 * one otadata partition; everything inside `flashSize` (bytes) when given; one MD5 row, after the
 * last entry; an end-of-table row (0xFF) within the 0xC00 bytes.
 *
 * Two rules of newer gen_esp32part versions are not applied, because Pycom's own layouts (built
 * with the ESP-IDF 3.x tool, which did not have them) break them and boot: app SIZES in 64 KB
 * multiples under secure boot v1 (Pycom's 8 MB OTA slots are 0x1EF000 bytes) and an otadata
 * partition of exactly 0x2000 bytes (Pycom's is 0x1000).
 *
 * Throws E_PT_* UserErrors: one sentence naming the partition(s) and saying to fix the table.
 */
export function validatePartitionTable(t: PartitionTable, what = 'the partition table', flashSize?: number): void {
  const fix = 'fix the partition table (partitions.csv) and build again';
  const fail = (code: string, why: string): never => {
    throw new UserError(code, `${what}: ${why}; ${fix}.`);
  };
  if ((t.md5Rows ?? 0) > 1) fail('E_PT_MD5', `it has ${t.md5Rows} MD5 rows, and a table has one, after its last entry`);
  if ((t.entriesAfterMd5 ?? 0) > 0) fail('E_PT_MD5', `${t.entriesAfterMd5} entr${t.entriesAfterMd5 === 1 ? 'y comes' : 'ies come'} after its MD5 row, which covers only the entries before it`);
  if (t.endMarker === false) fail('E_PT_END', `it has no end-of-table row (0xFF) within its ${TABLE_MAX_LEN} bytes`);
  const names = t.entries.map((e) => e.label);
  const dup = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
  if (dup.length) fail('E_PT_NAMES', `the partition name${dup.length > 1 ? 's' : ''} ${dup.map((n) => `"${n}"`).join(', ')} ${dup.length > 1 ? 'are' : 'is'} used more than once, and names must be unique`);
  const sorted = [...t.entries].sort((a, b) => a.offset - b.offset);
  for (const e of sorted) {
    const align = e.type === 0 ? 0x10000 : 0x1000;
    if (e.offset % align !== 0) {
      fail('E_PT_ALIGN', `partition "${e.label}" starts at ${hex(e.offset)}, which is not ${hex(align)}-aligned (${e.type === 0 ? 'app partitions start on 64 KB boundaries, where the flash cache maps them' : 'data partitions start on 4 KB sectors'})`);
    }
    if (e.offset < FIRST_PARTITION_OFFSET) {
      fail('E_PT_LOW', `partition "${e.label}" starts at ${hex(e.offset)}, inside the bootloader or the table itself (partitions start at ${hex(FIRST_PARTITION_OFFSET)} or later)`);
    }
    if (e.size === 0) fail('E_PT_SIZE', `partition "${e.label}" has size 0`);
    if (flashSize !== undefined && e.offset + e.size > flashSize) {
      fail('E_PT_FLASH', `partition "${e.label}" ends at ${hex(e.offset + e.size)}, past the end of the ${flashSize / 0x100000} MB flash`);
    }
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.offset + a.size > b.offset) {
      fail('E_PT_OVERLAP', `partitions "${a.label}" (${hex(a.offset)}-${hex(a.offset + a.size)}) and "${b.label}" (from ${hex(b.offset)}) overlap`);
    }
  }
  const otadata = t.entries.filter((e) => e.type === 1 && e.subtype === SUBTYPE_OTA_DATA);
  if (otadata.length > 1) fail('E_PT_OTADATA', `it has ${otadata.length} otadata partitions (${otadata.map((e) => `"${e.label}"`).join(', ')}), and the bootloader reads one`);
}

/** Serialises entries as gen_esp32part does: entries, MD5 record, 0xFF up to 0xC00 bytes. */
export function writePartitionTable(entries: readonly PartitionEntry[], opts: { md5?: boolean } = {}): Buffer {
  const out = Buffer.alloc(TABLE_MAX_LEN, 0xff);
  let off = 0;
  for (const e of entries) {
    if (off + 2 * ENTRY_SIZE > TABLE_MAX_LEN) throw new RangeError('too many partition entries');
    out.writeUInt16LE(ENTRY_MAGIC, off);
    out[off + 2] = e.type;
    out[off + 3] = e.subtype;
    out.writeUInt32LE(e.offset, off + 4);
    out.writeUInt32LE(e.size, off + 8);
    out.fill(0, off + 12, off + 28);
    out.write(e.label.slice(0, 16), off + 12, 'latin1');
    out.writeUInt32LE(e.encrypted ? FLAG_ENCRYPTED : 0, off + 28);
    off += ENTRY_SIZE;
  }
  if (opts.md5 ?? true) {
    out.writeUInt16LE(MD5_MAGIC, off);
    out.fill(0xff, off + 2, off + 16);
    createHash('md5').update(out.subarray(0, off)).digest().copy(out, off + 16);
  }
  return out;
}

/** The app partition containing `address` at its start, if any. */
export function partitionAt(t: PartitionTable, address: number): PartitionEntry | undefined {
  return t.entries.find((e) => e.offset === address);
}
