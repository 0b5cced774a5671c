import { createHash } from 'node:crypto';
import { SECTOR_SIZE } from '../chip/esp32';

/**
 * A NOR SPI flash: erase sets a whole 4 KiB sector to 0xFF, programming can only clear bits
 * (new = old AND data), as on the real part. Storage is sparse (only touched sectors are
 * allocated), so an 8 MB mostly-erased flash costs almost nothing.
 */

/** RDID capacity byte for a size (JEDEC RDID; esptool's flash size table). */
export function capacityByte(size: number): number {
  const log2 = Math.log2(size);
  if (!Number.isInteger(log2) || log2 < 18 || log2 > 28) throw new RangeError(`unsupported flash size ${size}`);
  return log2; // 0x12 = 256 KB … 0x16 = 4 MB, 0x17 = 8 MB, 0x18 = 16 MB
}

export interface SpiFlashOptions {
  size: number;
  /** Manufacturer byte of RDID; default 0xC8 (GigaDevice, common on ESP32 modules). */
  manufacturer?: number;
  /** Memory-type byte of RDID; default 0x40. */
  memoryType?: number;
}

export class SpiFlash {
  readonly size: number;
  readonly manufacturer: number;
  readonly memoryType: number;
  private readonly sectors = new Map<number, Buffer>();
  /** Bumped by every erase, program and load: a state file knows whether it is behind. */
  changes = 0;
  /** Sectors changed since `takeChangedSectors` last ran (a state file re-encodes only those). */
  private changed = new Set<number>();

  constructor(opts: SpiFlashOptions) {
    capacityByte(opts.size);
    this.size = opts.size;
    this.manufacturer = opts.manufacturer ?? 0xc8;
    this.memoryType = opts.memoryType ?? 0x40;
  }

  /** RDID (0x9F) answer as esptool reads it from SPI_W0: manufacturer 7:0, type 15:8, capacity 23:16. */
  get jedecId(): number {
    return (this.manufacturer | (this.memoryType << 8) | (capacityByte(this.size) << 16)) >>> 0;
  }

  inRange(offset: number, length: number): boolean {
    return Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  private check(offset: number, length: number): void {
    if (!this.inRange(offset, length)) throw new RangeError(`flash range 0x${offset.toString(16)}+0x${length.toString(16)} is outside the ${this.size}-byte flash`);
  }

  read(offset: number, length: number): Buffer {
    this.check(offset, length);
    const out = Buffer.alloc(length, 0xff);
    let pos = 0;
    while (pos < length) {
      const addr = offset + pos;
      const s = Math.floor(addr / SECTOR_SIZE);
      const inSector = addr % SECTOR_SIZE;
      const n = Math.min(SECTOR_SIZE - inSector, length - pos);
      const sec = this.sectors.get(s);
      if (sec) sec.copy(out, pos, inSector, inSector + n);
      pos += n;
    }
    return out;
  }

  /** Erases the 4 KiB sector containing `offset`. */
  eraseSector(offset: number): void {
    this.check(offset, 1);
    this.touch(Math.floor(offset / SECTOR_SIZE));
    this.sectors.delete(Math.floor(offset / SECTOR_SIZE));
  }

  /** Erases every sector overlapping [offset, offset+length). */
  eraseRange(offset: number, length: number): void {
    if (length === 0) return;
    this.check(offset, length);
    const first = Math.floor(offset / SECTOR_SIZE);
    const last = Math.floor((offset + length - 1) / SECTOR_SIZE);
    for (let s = first; s <= last; s++) {
      this.touch(s);
      this.sectors.delete(s);
    }
  }

  eraseChip(): void {
    for (const s of this.sectors.keys()) this.touch(s);
    this.sectors.clear();
  }

  private touch(sector: number): void {
    this.changes++;
    this.changed.add(sector);
  }

  /** The sectors changed since the last call (and forgets them). */
  takeChangedSectors(): Set<number> {
    const out = this.changed;
    this.changed = new Set();
    return out;
  }

  /** NOR program: each byte becomes old AND new; bits only go 1 → 0. */
  program(offset: number, data: Uint8Array): void {
    this.check(offset, data.length);
    let pos = 0;
    while (pos < data.length) {
      const addr = offset + pos;
      const s = Math.floor(addr / SECTOR_SIZE);
      const inSector = addr % SECTOR_SIZE;
      const n = Math.min(SECTOR_SIZE - inSector, data.length - pos);
      this.touch(s);
      let sec = this.sectors.get(s);
      for (let i = 0; i < n; i++) {
        const b = data[pos + i]!;
        if (b === 0xff) continue;
        if (!sec) {
          sec = Buffer.alloc(SECTOR_SIZE, 0xff);
          this.sectors.set(s, sec);
        }
        sec[inSector + i] = sec[inSector + i]! & b;
      }
      pos += n;
    }
  }

  md5(offset: number, length: number): Buffer {
    this.check(offset, length);
    const h = createHash('md5');
    const chunk = 0x10000;
    for (let pos = 0; pos < length; pos += chunk) h.update(this.read(offset + pos, Math.min(chunk, length - pos)));
    return h.digest();
  }

  /** Sectors that hold anything other than 0xFF, for the state file (index → content). */
  usedSectors(): Array<[number, Buffer]> {
    const out: Array<[number, Buffer]> = [];
    for (const [i, b] of [...this.sectors.entries()].sort((a, c) => a[0] - c[0])) {
      if (b.some((x) => x !== 0xff)) out.push([i, b]);
    }
    return out;
  }

  /** Restores one sector's content (state file load). */
  loadSector(index: number, data: Uint8Array): void {
    if (data.length !== SECTOR_SIZE || index < 0 || (index + 1) * SECTOR_SIZE > this.size) throw new RangeError(`bad sector ${index}`);
    this.touch(index);
    this.sectors.set(index, Buffer.from(data));
  }
}
