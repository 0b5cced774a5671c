import { PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { parsePartitionTable, TABLE_MAX_LEN, type PartitionTable } from '../partition/table';
import { crc32Le } from '../util/crc32';

/**
 * How Pycom's firmware answers `pycom.ota_slot()` (pycom-micropython-sigfox 1.20,
 * `esp32/ftp/updater.c` updater_ota_next_slot_address, `esp32/bootloader/bootloader.h`): the
 * record it keeps in the otadata partition ("boot_info") says which image runs and whether a new
 * one is still being checked, and the next OTA image goes to the other slot.
 */

/** boot_info: little-endian u32 ActiveImg, Status, PrevImg, size, safeboot, 16-byte signature, u32 crc (40 bytes). */
export const BOOT_INFO_LEN = 40;
/** The CRC covers the first 36 bytes, `crc32_le(UINT32_MAX, ...)` as the ROM computes it. */
const BOOT_INFO_CRC_LEN = 36;
/** ActiveImg values: FACTORY 0, UPDATE1 1 (ota_0), UPDATE2 2 (which maps to the factory slot). */
export const IMG_ACT_FACTORY = 0;
/** Status values: CHECK 0 (an image written by OTA waits for the bootloader's check), READY 1. */
export const IMG_STATUS_CHECK = 0;
export const IMG_STATUS_READY = 1;
/** The factory app's offset the firmware uses (IMG_FACTORY_OFFSET, 64 KiB). */
export const PYCOM_FACTORY_OFFSET = 0x10000;
/**
 * The ota_0 offset the 1.20 firmware uses when the table has none: by silicon revision, not by
 * flash size (IMG_UPDATE1_OFFSET_8MB 0x210000 for revision > 0, IMG_UPDATE1_OFFSET_4MB 0x1C0000).
 */
export function pycomDefaultOtaOffset(chipRevision: number): number {
  return chipRevision > 0 ? 0x210000 : 0x1c0000;
}

export interface BootInfo {
  activeImg: number;
  status: number;
  prevImg: number;
  /** Whether Pycom's bootloader accepts the record (Status not 0xFFFFFFFF and the CRC matches). */
  valid: boolean;
}

/** Reads a boot_info record (40 bytes or more, as the CPU reads them: decrypted on an encrypted board). */
export function parseBootInfo(bytes: Uint8Array): BootInfo {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < BOOT_INFO_LEN) return { activeImg: 0xffffffff, status: 0xffffffff, prevImg: 0xffffffff, valid: false };
  const status = b.readUInt32LE(4);
  const crc = b.readUInt32LE(BOOT_INFO_CRC_LEN);
  return { activeImg: b.readUInt32LE(0), status, prevImg: b.readUInt32LE(8), valid: status !== 0xffffffff && crc === crc32Le(0xffffffff, b.subarray(0, BOOT_INFO_CRC_LEN)) };
}

/** A valid boot_info record (40 bytes, CRC filled in), e.g. what the bootloader writes or a test lays into otadata. */
export function makeBootInfo(activeImg: number, status: number, prevImg = IMG_ACT_FACTORY): Buffer {
  const b = Buffer.alloc(BOOT_INFO_LEN);
  b.writeUInt32LE(activeImg >>> 0, 0);
  b.writeUInt32LE(status >>> 0, 4);
  b.writeUInt32LE(prevImg >>> 0, 8);
  b.writeUInt32LE(crc32Le(0xffffffff, b.subarray(0, BOOT_INFO_CRC_LEN)), BOOT_INFO_CRC_LEN);
  return b;
}

export interface OtaSlotInput {
  /** Flash as the running firmware reads it (decrypted when flash encryption is on); offsets and lengths in bytes. */
  read(offset: number, length: number): Uint8Array;
  /** ESP32 silicon revision (decides the firmware's built-in ota_0 offset). */
  chipRevision: number;
}

export type OtaSlotAnswer = { slot: number; bootInfo: BootInfo; table: PartitionTable } | { error: 'no-table' | 'no-otadata' };

/**
 * The address `pycom.ota_slot()` returns on this flash. The slots are the table's factory and
 * ota_0 apps (Pycom's firmware has them built in, equal to its 1.20 tables; the built-in values
 * are used when the table lacks one), the record is read from the table's otadata partition.
 * Status CHECK: the pending slot is written again (factory active → factory, else ota_0); any
 * other status: the slot that is not running (factory active → ota_0, else factory).
 *
 * An invalid record (erased, bad CRC: e.g. a plaintext record on an encrypted board) is taken as
 * FACTORY/READY, because Pycom's bootloader rewrites such a record to exactly that before the
 * firmware runs (bootloader.c ota_select_valid); the virtual board does not write it back.
 *
 * Never throws: 'no-table' when 0x8000 holds no readable partition table, 'no-otadata' when the
 * table has no otadata partition (the firmware would then read whatever the third entry points to;
 * here it is an error rather than a guess).
 */
export function pycomOtaSlot(input: OtaSlotInput): OtaSlotAnswer {
  let table: PartitionTable;
  try {
    table = parsePartitionTable(input.read(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN));
  } catch {
    return { error: 'no-table' };
  }
  const otadata = table.entries.find((e) => e.type === 1 && e.subtype === 0x00);
  if (!otadata) return { error: 'no-otadata' };
  const factory = table.entries.find((e) => e.type === 0 && e.subtype === 0x00)?.offset ?? PYCOM_FACTORY_OFFSET;
  const ota0 = table.entries.find((e) => e.type === 0 && e.subtype === 0x10)?.offset ?? pycomDefaultOtaOffset(input.chipRevision);
  const read = parseBootInfo(input.read(otadata.offset, BOOT_INFO_LEN));
  const info: BootInfo = read.valid ? read : { activeImg: IMG_ACT_FACTORY, status: IMG_STATUS_READY, prevImg: IMG_ACT_FACTORY, valid: false };
  const factoryActive = info.activeImg === IMG_ACT_FACTORY;
  const slot = info.status === IMG_STATUS_CHECK ? (factoryActive ? factory : ota0) : factoryActive ? ota0 : factory;
  return { slot, bootInfo: info, table };
}
