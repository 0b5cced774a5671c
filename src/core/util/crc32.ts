/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table built once on first use. */
let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * The ESP32 ROM's `crc32_le(crc, buf, len)` (the same as zlib's `crc32(buf, crc)`): the running
 * value is inverted on the way in and on the way out, so `crc32Le(0, b)` is the ordinary CRC-32
 * of `b` and `crc32Le(0xFFFFFFFF, b)` is what ESP-IDF's and Pycom's otadata records carry.
 * Returns an unsigned 32-bit number.
 */
export function crc32Le(crc: number, bytes: Uint8Array): number {
  const t = crcTable();
  let c = ~crc >>> 0;
  for (const b of bytes) c = t[(c ^ b) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
