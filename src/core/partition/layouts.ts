/**
 * Pycom's partition layouts (pycom.md §1.9), as data. Offsets and sizes are exact; the CSV labels
 * of the data partitions are UNCONFIRMED (the spec gives roles, not the CSV text), so code must
 * match partitions by type/subtype/offset, never by label.
 */
import type { PartitionEntry } from './table';

export type LayoutId = '1.18' | '4MB' | '8MB';

const KB = 1024;

function app(label: string, subtype: number, offset: number, size: number): PartitionEntry {
  return { label, type: 0, subtype, offset, size, encrypted: false };
}
function data(label: string, subtype: number, offset: number, size: number, encrypted = false): PartitionEntry {
  return { label, type: 1, subtype, offset, size, encrypted };
}

/** Subtype numbers (esp32-boot-security.md §5.3). */
export const SUBTYPE = { FACTORY: 0x00, OTA_0: 0x10, OTA_DATA: 0x00, NVS: 0x02 } as const;

export const LAYOUTS: Readonly<Record<LayoutId, readonly PartitionEntry[]>> = {
  // Era B/1.17-1.18 `lib/partitions.csv` (1536K slots).
  '1.18': [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 0x180000),
    data('otadata', SUBTYPE.OTA_DATA, 0x190000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x1a0000, 0x180000),
    data('dummy', 7, 0x320000, 64 * KB),
    data('fs', 5, 0x380000, 508 * KB, true),
    data('config', 6, 0x3ff000, 4 * KB),
  ],
  // 1.20 `partitions_4MB.csv` (also the single table of 1.20 rc1-rc11), 1720K slots.
  '4MB': [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 0x1ae000),
    data('otadata', SUBTYPE.OTA_DATA, 0x1be000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x1c0000, 0x1ae000),
    data('dummy', 7, 0x36e000, 64 * KB),
    data('fs', 5, 0x380000, 508 * KB, true),
    data('config', 6, 0x3ff000, 4 * KB),
  ],
  // 1.20 `partitions_8MB.csv`, 1980K slots; the file system (fs1 at 0x400000) is not in the table.
  '8MB': [
    data('nvs', SUBTYPE.NVS, 0x9000, 0x7000),
    app('factory', SUBTYPE.FACTORY, 0x10000, 0x1ef000),
    data('otadata', SUBTYPE.OTA_DATA, 0x1ff000, 0x1000, true),
    app('ota_0', SUBTYPE.OTA_0, 0x210000, 0x1ef000),
    data('config', 6, 0x3ff000, 4 * KB),
  ],
};

/** Flash map constants shared by every generation (esp32-boot-security.md §1). */
export const DIGEST_ADDRESS = 0x0;
export const BOOTLOADER_ADDRESS = 0x1000;
export const PARTITION_TABLE_ADDRESS = 0x8000;
export const FACTORY_ADDRESS = 0x10000;
/** The LoRa/Sigfox identity sector (MACs, Sigfox ID/PAC): plaintext, never rewritten by us unless forced. */
export const CONFIG_SECTOR_ADDRESS = 0x3ff000;
export const SECTOR_SIZE = 0x1000;
