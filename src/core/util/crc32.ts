import * as zlib from 'node:zlib';

/**
 * The ESP32 ROM's `crc32_le(crc, buf, len)`, which is zlib's `crc32(buf, crc)` (Node's
 * `zlib.crc32`, IEEE 802.3 polynomial): the running value is inverted on the way in and on the way
 * out, so `crc32Le(0, b)` is the ordinary CRC-32 of `b` and `crc32Le(0xFFFFFFFF, b)` is what
 * ESP-IDF's and Pycom's otadata records carry. Returns an unsigned 32-bit number.
 */
export function crc32Le(crc: number, bytes: Uint8Array): number {
  return zlib.crc32(bytes, crc) >>> 0;
}
