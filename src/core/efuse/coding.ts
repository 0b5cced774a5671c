/**
 * The 3/4 coding scheme of BLOCK1..3 (esp32-efuse.md §6.2): 24 data bytes in register byte
 * order become four 6-byte groups, each followed by an XOR byte and a weighted popcount byte;
 * the 32 bytes are what the program registers take. Reading returns the 24 data bytes.
 */

export const THREE_FOUR_DATA_BYTES = 24;

function popcount8(b: number): number {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
}

/** Encodes 24 data bytes into the 8 WDATA words (little-endian). */
export function encode34(data: Uint8Array): number[] {
  if (data.length !== THREE_FOUR_DATA_BYTES) throw new RangeError(`3/4 coding takes ${THREE_FOUR_DATA_BYTES} bytes, not ${data.length}`);
  const out = Buffer.alloc(32);
  for (let g = 0; g < 4; g++) {
    let x = 0;
    let s = 0;
    for (let i = 0; i < 6; i++) {
      const b = data[g * 6 + i]!;
      out[g * 8 + i] = b;
      x ^= b;
      s += (i + 1) * popcount8(b);
    }
    out[g * 8 + 6] = x;
    out[g * 8 + 7] = s & 0xff;
  }
  return bytesToWords(out);
}

/** Little-endian words → bytes in register order. */
export function wordsToBytes(words: readonly number[]): Buffer {
  const out = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => out.writeUInt32LE(w >>> 0, 4 * i));
  return out;
}

/** Bytes in register order → little-endian words (length must be a multiple of 4). */
export function bytesToWords(bytes: Uint8Array): number[] {
  const b = Buffer.from(bytes);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(b.readUInt32LE(i));
  return out;
}

/**
 * The program words for a key block's data bytes (register order): raw 32 bytes under coding
 * scheme None, the encoded form of 24 bytes under 3/4.
 */
export function blockProgramWords(data: Uint8Array, threeFour: boolean): number[] {
  if (threeFour) return encode34(data);
  if (data.length !== 32) throw new RangeError(`a key block holds 32 bytes, not ${data.length}`);
  return bytesToWords(data);
}

/** The data bytes software can read from a key block's read window (24 under 3/4, else 32). */
export function blockDataBytes(rdata: readonly number[], threeFour: boolean): Buffer {
  return wordsToBytes(rdata.slice(0, threeFour ? 6 : 8));
}
