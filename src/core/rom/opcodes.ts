/** ESP32 serial bootloader opcodes (esptool docs, Serial Protocol; esptool's loader.py). */
export const Op = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  READ_FLASH_SLOW: 0x0e,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export function opName(op: number): string {
  for (const [name, v] of Object.entries(Op)) if (v === op) return name;
  return `0x${op.toString(16).padStart(2, '0')}`;
}

/** The SYNC payload: 07 07 12 20 followed by 32 × 0x55 (esptool docs, Serial Protocol: SYNC). */
export const SYNC_PAYLOAD: Uint8Array = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);

/** Block sizes the ROM loader uses (no stub is ever uploaded by this product). */
export const ROM_FLASH_WRITE_SIZE = 0x400;
export const ROM_RAM_BLOCK = 0x1800;
export const READ_FLASH_SLOW_MAX = 64;

/** Seed of the XOR checksum over *_DATA payloads (esptool docs, Serial Protocol: Checksum). */
export const CHECKSUM_SEED = 0xef;

/** ROM error codes: second status byte when the first is 1 (esptool docs, Serial Protocol: ROM loader errors). */
export const RomError = {
  INVALID_MESSAGE: 0x05,
  FAILED_TO_ACT: 0x06,
  INVALID_CRC: 0x07,
  FLASH_WRITE_ERROR: 0x08,
  FLASH_READ_ERROR: 0x09,
  FLASH_READ_LENGTH_ERROR: 0x0a,
  DEFLATE_ERROR: 0x0b,
} as const;

/** Plain-language meaning of each ROM error code, for messages users read. */
export const ROM_ERROR_TEXT: Readonly<Record<number, string>> = {
  0x05: 'the loader rejected the message as invalid (bad parameters, bad length or unknown command)',
  0x06: 'the loader failed to act on the message',
  0x07: 'the data checksum was wrong (bytes were corrupted on the way)',
  0x08: 'the flash write failed (the data read back after writing differed)',
  0x09: 'the flash read failed',
  0x0a: 'the flash read request was too long',
  0x0b: 'the compressed data was corrupt (deflate error)',
};
