import { hex } from '../util/hex';
import { firmwareRegions, layoutsMatching, type FirmwareRegion, type LayoutId } from '../boards/catalog';
import { isEncryptedPartition, type PartitionEntry } from '../partition/table';

/**
 * Where a region of flash goes: a partition of the table the plan is checked against, or one of
 * the regions Pycom's firmware keeps at a fixed address outside that table (catalog
 * firmwareRegions: the 8 MB modules' /flash at 0x400000). The one source of what the messages call
 * a place in flash.
 */
export type FlashPlace =
  | { kind: 'partition'; entry: PartitionEntry }
  | { kind: 'firmware'; region: FirmwareRegion };

/** The flash map a plan is checked against: the table's entries and the firmware's fixed regions the table does not cover. */
export interface FlashMap {
  partitions: readonly PartitionEntry[];
  /** Fixed regions of the layouts the table is (or the plan names) that lie outside every entry. */
  outsideTable: readonly FirmwareRegion[];
}

/**
 * The flash map of `partitions`: the fixed regions (catalog firmwareRegions) of the catalog layouts
 * those entries are (layoutsMatching) plus `layout` when given (a build's), keeping those that no
 * entry overlaps. A table of one's own gets only the config sector, if the table lacks it.
 */
export function flashMap(partitions: readonly PartitionEntry[], layout?: LayoutId): FlashMap {
  const ids = layoutsMatching(partitions).map((l) => l.id);
  if (layout && !ids.includes(layout)) ids.push(layout);
  const outsideTable = firmwareRegions(ids).filter((f) => !partitions.some((e) => f.offset < e.offset + e.size && e.offset < f.offset + f.size));
  return { partitions, outsideTable };
}

/** The place in `map` that holds `address`, or undefined when neither a partition nor a fixed region does. */
export function placeAt(map: FlashMap, address: number): FlashPlace | undefined {
  const entry = map.partitions.find((e) => address >= e.offset && address < e.offset + e.size);
  if (entry) return { kind: 'partition', entry };
  const region = map.outsideTable.find((f) => address >= f.offset && address < f.offset + f.size);
  return region ? { kind: 'firmware', region } : undefined;
}

/** `"fs1" (the /flash file system Pycom's firmware keeps outside the partition table, 0x400000-0x800000)`, for messages. */
export function describeFirmwareRegion(f: FirmwareRegion, more = ''): string {
  return `"${f.name}" (${f.holds} Pycom's firmware keeps outside the partition table, ${hex(f.offset)}-${hex(f.offset + f.size)}${more})`;
}

/** Subtype names of gen_esp32part.py (ESP-IDF 3.x SUBTYPES); others are shown by number (Pycom's fs 5, config 6, dummy 7). */
const APP_SUBTYPES: Readonly<Record<number, string>> = { 0x00: 'factory', 0x20: 'test' };
const DATA_SUBTYPES: Readonly<Record<number, string>> = { 0x00: 'ota', 0x01: 'phy', 0x02: 'nvs', 0x03: 'coredump', 0x04: 'nvs_keys', 0x80: 'esphttpd', 0x81: 'fat', 0x82: 'spiffs' };

/** `app/factory`, `app/ota_0`, `data/nvs`, `data/6`: a partition's type and subtype as gen_esp32part.py's CSV names them. */
export function partitionKind(e: PartitionEntry): string {
  if (e.type === 0) return `app/${e.subtype >= 0x10 && e.subtype < 0x20 ? `ota_${e.subtype - 0x10}` : (APP_SUBTYPES[e.subtype] ?? hex(e.subtype))}`;
  return `${e.type === 1 ? 'data' : hex(e.type)}/${DATA_SUBTYPES[e.subtype] ?? e.subtype}`;
}

/**
 * Where a region goes, for describeRegion: `"nvs" (data/nvs partition, not encrypted)`,
 * `"factory" (app/factory partition, encrypted)`, or a fixed region by Pycom's name
 * (describeFirmwareRegion) with whether the chip reads it through flash encryption (placeEncrypted).
 */
export function describePlace(p: FlashPlace): string {
  const enc = placeEncrypted(p) ? 'encrypted' : 'not encrypted';
  return p.kind === 'partition' ? `"${p.entry.label}" (${partitionKind(p.entry)} partition, ${enc})` : describeFirmwareRegion(p.region, `, ${enc}`);
}

/** Whether the chip reads the place through flash encryption: an app partition or one flagged encrypted, or a fixed region the firmware writes encrypted. */
export function placeEncrypted(p: FlashPlace): boolean {
  return p.kind === 'partition' ? isEncryptedPartition(p.entry) : p.region.encrypted;
}
