import type { RomLoader } from '../loader/rom-loader';
import { fail } from '../connect/messages';
import { SPI1, SPI1_BASE, SPI_CMD_USR, SPI_USER_COMMAND, SPI_USER_MISO } from './esp32';

/**
 * SPI flash identification through the SPI1 "user command" registers (esp32-rom-protocol.md
 * §7.4): the ROM has no RDID command, so we drive the controller with READ_REG/WRITE_REG.
 */
const SPI_CMD = SPI1_BASE + SPI1.CMD;
const SPI_USER = SPI1_BASE + SPI1.USER;
const SPI_USER2 = SPI1_BASE + SPI1.USER2;
const SPI_MOSI_DLEN = SPI1_BASE + SPI1.MOSI_DLEN;
const SPI_MISO_DLEN = SPI1_BASE + SPI1.MISO_DLEN;
const SPI_W0 = SPI1_BASE + SPI1.W0;
const RDID = 0x9f;

/** Capacity byte of the RDID answer → bytes (§7.4). */
export const FLASH_CAPACITY: Readonly<Record<number, number>> = {
  0x12: 256 << 10, 0x13: 512 << 10, 0x14: 1 << 20, 0x15: 2 << 20, 0x16: 4 << 20, 0x17: 8 << 20, 0x18: 16 << 20,
  0x19: 32 << 20, 0x1a: 64 << 20, 0x1b: 128 << 20, 0x1c: 256 << 20, 0x20: 64 << 20, 0x21: 128 << 20, 0x22: 256 << 20,
  0x32: 256 << 10, 0x33: 512 << 10, 0x34: 1 << 20, 0x35: 2 << 20, 0x36: 4 << 20, 0x37: 8 << 20, 0x38: 16 << 20, 0x39: 32 << 20, 0x3a: 64 << 20,
};

export interface FlashId {
  /** 24-bit JEDEC id as esptool prints it: manufacturer in bits 7:0, type 15:8, capacity 23:16. */
  id: number;
  manufacturer: number;
  device: number;
  /** undefined when the capacity byte is unknown (esptool then assumes 4 MB). */
  sizeBytes: number | undefined;
  /** 0xFFFFFF, 0x000000, 0xFFFF3F: no answer from the flash chip. */
  responding: boolean;
}

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
    const id = (await loader.readReg(SPI_W0)) & 0xffffff;
    const capacity = (id >> 16) & 0xff;
    return {
      id,
      manufacturer: id & 0xff,
      device: (id >> 8) & 0xffff,
      sizeBytes: FLASH_CAPACITY[capacity],
      responding: id !== 0xffffff && id !== 0 && id !== 0xffff3f,
    };
  } finally {
    await loader.writeReg(SPI_USER, oldUser);
    await loader.writeReg(SPI_USER2, oldUser2);
  }
}

export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown';
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)}MB` : `${bytes / 1024}KB`;
}
