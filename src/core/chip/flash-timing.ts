/**
 * How long the ESP32 ROM loader's work takes over a UART and on the SPI NOR flash of a Pycom module:
 * the virtual board's timing model (off by default; benchmarks and `sim serve --timing` turn it on)
 * and the flash progress's time left before anything was measured both read it from here.
 *
 * UART: 10 bits per byte (start + 8 data + stop: the ROM loader's 8N1) at the current baud,
 * in both directions: a frame has been received only once its last byte has crossed the line,
 * and a reply reaches the host only once its last byte has been sent. CHANGE_BAUDRATE changes the
 * rate the model charges from the next byte on, over any link (TCP included).
 *
 * Flash: the ROM loader has no flasher stub's double buffering (esptool write_flash --no-stub): it erases the
 * whole region on FLASH_BEGIN / FLASH_DEFL_BEGIN before replying, and inflates, programs and
 * read-back-verifies each DATA block before ACKing it. Since the host waits for each reply, wire
 * time and flash time add up. The spec gives only the tool timeouts (30 s/MB erase, 40 s/MB write,
 * esptool's loader.py), which are upper bounds, not typical times; UNCONFIRMED: the erase and program times below
 * are typical datasheet values of the 4–8 MB SPI NOR parts on Pycom modules (Winbond W25Q32/W25Q64
 * class: 4 KiB sector erase 45 ms, 64 KiB block erase 150 ms, 256-byte page program 0.7 ms), and
 * SPI_FLASH_MD5 is charged the time to read the range over a 40 MHz single-bit SPI bus.
 */
export interface TimingModel {
  /** The profile's name (TIMING_PROFILES key). */
  name: string;
  bitsPerByte: number;
  /**
   * How the ROM erases a region. 'sector': every 4 KiB sector on its own. 'block64k': as the
   * ESP8266 ROM's erase routine does (publicly reverse-engineered; esptool's ESP8266 erase-size
   * workaround follows from it): sectors up to the first 64 KiB boundary, whole 64 KiB blocks,
   * then the remaining sectors. Which one the ESP32 ROM does is UNCONFIRMED.
   */
  eraseUnit: 'sector' | 'block64k';
  sectorEraseMs: number;
  blockEraseMs: number;
  pageProgramMs: number;
  /** SPI flash read for SPI_FLASH_MD5 (and READ_FLASH_SLOW), milliseconds per MiB. */
  readMsPerMb: number;
}

/**
 * The named timing profiles. The default is 'sector': the conservative assumption is that every
 * 4 KiB sector of the region is erased (erase granularity of the ESP32 ROM is UNCONFIRMED: no public document states it), and
 * charging each one separately never credits the ROM with a speed-up nobody has confirmed. The
 * 'block64k' profile is the optimistic alternative (a floor several times lower for large regions);
 * the benchmark reports both, so a claim against the stricter floor stays visible.
 */
export const TIMING_PROFILES: Readonly<Record<'sector' | 'block64k', TimingModel>> = {
  sector: { name: 'sector', bitsPerByte: 10, eraseUnit: 'sector', sectorEraseMs: 45, blockEraseMs: 150, pageProgramMs: 0.7, readMsPerMb: 210 },
  block64k: { name: 'block64k', bitsPerByte: 10, eraseUnit: 'block64k', sectorEraseMs: 45, blockEraseMs: 150, pageProgramMs: 0.7, readMsPerMb: 210 },
};

export type TimingProfileName = keyof typeof TIMING_PROFILES;

export const DEFAULT_TIMING: TimingModel = TIMING_PROFILES.sector;

/** The profile called `name`; undefined when there is none. */
export function timingProfile(name: string): TimingModel | undefined {
  return Object.prototype.hasOwnProperty.call(TIMING_PROFILES, name) ? TIMING_PROFILES[name as TimingProfileName] : undefined;
}

const SECTOR = 0x1000;
const BLOCK = 0x10000;

/**
 * Erase time (ms) of the sectors overlapping [offset, offset + size) under the model: per sector,
 * or (block64k) sectors to the first 64 KiB boundary, whole blocks, then sectors.
 */
export function eraseMs(t: TimingModel, offset: number, size: number): number {
  if (size <= 0) return 0;
  let a = offset - (offset % SECTOR);
  const end = Math.ceil((offset + size) / SECTOR) * SECTOR;
  if (t.eraseUnit === 'sector') return ((end - a) / SECTOR) * t.sectorEraseMs;
  let ms = 0;
  while (a < end) {
    if (a % BLOCK === 0 && end - a >= BLOCK) {
      ms += t.blockEraseMs;
      a += BLOCK;
    } else {
      ms += t.sectorEraseMs;
      a += SECTOR;
    }
  }
  return ms;
}

/** Time (ms) to read `bytes` of flash under the model (SPI_FLASH_MD5). */
export function flashReadMs(t: TimingModel, bytes: number): number {
  return (bytes / 1048576) * t.readMsPerMb;
}

export function uartMs(t: TimingModel, bytes: number, baud: number): number {
  return (bytes * t.bitsPerByte * 1000) / baud;
}

/** A first figure for the time a write takes, before any of it was measured (flash/writer.ts). */
export interface WriteEstimate {
  /** Seconds per payload byte once the region is erased: wire both ways and page programs. */
  secondsPerByte: number;
  /** Seconds the ROM spends erasing [address, address + size) on FLASH_BEGIN before its reply. */
  eraseSeconds(address: number, size: number): number;
}

/** FLASH_DATA framing per block: 8-byte command header, 16-byte data header, 2 SLIP ends (escapes left out). */
const DATA_FRAME_OVERHEAD = 26;
/** The ROM's reply per block: 8-byte header, 4 status bytes, 2 SLIP ends. */
const ROM_REPLY_BYTES = 14;

/**
 * What writing through the ROM loader should take under `t` at `baud` (bits per second), before
 * anything was measured: per `blockSize`-byte FLASH_DATA block its request and reply on the wire
 * and its 256-byte page programs, after the erase of the region (esp32-rom-protocol: the ROM erases
 * the whole region on FLASH_BEGIN and answers each block after programming it). With the default
 * profile the erase is charged per 4 KiB sector, the slower of the two profiles: the ESP32 ROM's
 * erase granularity is UNCONFIRMED, and a time left that runs out early is worse than one that
 * ends ahead of itself.
 */
export function romWriteEstimate(t: TimingModel, baud: number, blockSize: number): WriteEstimate {
  const blockMs = uartMs(t, blockSize + DATA_FRAME_OVERHEAD, baud) + uartMs(t, ROM_REPLY_BYTES, baud) + Math.ceil(blockSize / 256) * t.pageProgramMs;
  return {
    secondsPerByte: blockMs / blockSize / 1000,
    eraseSeconds: (address, size) => eraseMs(t, address, size) / 1000,
  };
}
