import type { RomLoader } from '../loader/rom-loader';
import { fail } from '../connect/messages';
import { SPI1, SPI1_BASE, SPI_CMD_USR, SPI_USER_COMMAND, SPI_USER_MISO } from './esp32';

/**
 * SPI flash identification through the SPI1 "user command" registers (esptool
 * loader.py run_spiflash_command): the ROM has no RDID command, so we drive the controller with
 * READ_REG/WRITE_REG.
 */
const SPI_CMD = SPI1_BASE + SPI1.CMD;
const SPI_USER = SPI1_BASE + SPI1.USER;
const SPI_USER2 = SPI1_BASE + SPI1.USER2;
const SPI_MOSI_DLEN = SPI1_BASE + SPI1.MOSI_DLEN;
const SPI_MISO_DLEN = SPI1_BASE + SPI1.MISO_DLEN;
const SPI_W0 = SPI1_BASE + SPI1.W0;
const RDID = 0x9f;

/** Capacity byte of the RDID answer → bytes (JEDEC: 2^N bytes). */
export const FLASH_CAPACITY: Readonly<Record<number, number>> = {
  0x12: 256 << 10, 0x13: 512 << 10, 0x14: 1 << 20, 0x15: 2 << 20, 0x16: 4 << 20, 0x17: 8 << 20, 0x18: 16 << 20,
  0x19: 32 << 20, 0x1a: 64 << 20, 0x1b: 128 << 20, 0x1c: 256 << 20, 0x20: 64 << 20, 0x21: 128 << 20, 0x22: 256 << 20,
  0x32: 256 << 10, 0x33: 512 << 10, 0x34: 1 << 20, 0x35: 2 << 20, 0x36: 4 << 20, 0x37: 8 << 20, 0x38: 16 << 20, 0x39: 32 << 20, 0x3a: 64 << 20,
};

/**
 * A flash chip's RDID (0x9F) answer. The SPI1 W0 register holds the three answer bytes in the
 * order they arrive, first byte lowest (manufacturer 7:0, memory type 15:8, capacity 23:16);
 * every field here is in JEDEC order instead, the order esptool's `flash_id` prints
 * ("Manufacturer: ef", "Device: 4017") and datasheets give (EF 40 17 for a W25Q64).
 */
export interface FlashId {
  /** 24-bit JEDEC id: manufacturer 23:16, memory type 15:8, capacity 7:0 (0xef4017). */
  id: number;
  /** Manufacturer byte (esptool "Manufacturer: ef" → 0xef). */
  manufacturer: number;
  /** Memory type then capacity byte (esptool "Device: 4017" → 0x4017). */
  device: number;
  /** The same as esptool prints them: manufacturer 2 hex digits, device 4 ("ef", "4017"). */
  manufacturerHex: string;
  deviceHex: string;
  /** undefined when the capacity byte is unknown (esptool then assumes 4 MB). */
  sizeBytes: number | undefined;
  /** 0xFFFFFF, 0x000000, 0xFFFF3F: no answer from the flash chip. */
  responding: boolean;
}

/** The RDID bytes as SPI1 W0 holds them (first byte lowest) → JEDEC-order fields. */
export function flashIdFromW0(w0: number): FlashId {
  const raw = w0 & 0xffffff;
  const manufacturer = raw & 0xff;
  const memoryType = (raw >> 8) & 0xff;
  const capacity = (raw >> 16) & 0xff;
  const device = (memoryType << 8) | capacity;
  return {
    id: ((manufacturer << 16) | device) >>> 0,
    manufacturer,
    device,
    manufacturerHex: manufacturer.toString(16).padStart(2, '0'),
    deviceHex: device.toString(16).padStart(4, '0'),
    sizeBytes: FLASH_CAPACITY[capacity],
    responding: raw !== 0xffffff && raw !== 0 && raw !== 0xffff3f,
  };
}

/** Reads the flash chip's JEDEC id over the ROM loader (registers only; nothing is written to flash). */
export async function readFlashId(loader: RomLoader): Promise<FlashId> {
  const oldUser = await loader.readReg(SPI_USER);
  const oldUser2 = await loader.readReg(SPI_USER2);
  try {
    await loader.writeReg(SPI_MOSI_DLEN, 0);
    await loader.writeReg(SPI_MISO_DLEN, 24 - 1);
    await loader.writeReg(SPI_USER, (SPI_USER_COMMAND | SPI_USER_MISO) >>> 0);
    await loader.writeReg(SPI_USER2, ((7 << 28) | RDID) >>> 0);
    await loader.writeReg(SPI_W0, 0);
    await loader.writeReg(SPI_CMD, SPI_CMD_USR);
    let done = false;
    for (let i = 0; i < 10 && !done; i++) done = ((await loader.readReg(SPI_CMD)) & SPI_CMD_USR) === 0;
    if (!done) throw fail('E_SPI_TIMEOUT', { port: loader.port });
    return flashIdFromW0(await loader.readReg(SPI_W0));
  } finally {
    await loader.writeReg(SPI_USER, oldUser);
    await loader.writeReg(SPI_USER2, oldUser2);
  }
}

export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown';
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)}MB` : `${bytes / 1024}KB`;
}
