/**
 * The one hex formatter. `0x` then the digits, upper case by default as Pycom's makefile and
 * esptool's messages spell addresses (`0x1C0000`, `gpy.bin_enc_0x210000`); `lower` gives the
 * ESP-IDF boot log's spelling (`load:0x3fff0018`). `width` pads with zeros to that many digits.
 * Negative numbers are shown as their unsigned 32-bit value (register words read as int32).
 *
 *   hex(0x1c0000) === '0x1C0000'; hex(0x18, { width: 8, lower: true }) === '0x00000018'
 */
export function hex(n: number, opts: { width?: number; lower?: boolean } = {}): string {
  const digits = (n < 0 ? n >>> 0 : n).toString(16).padStart(opts.width ?? 1, '0');
  return `0x${opts.lower ? digits : digits.toUpperCase()}`;
}
