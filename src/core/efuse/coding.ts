/**
 * Key-block words ↔ bytes in register byte order (byte i = byte i mod 4 of word i div 4).
 * Under the 3/4 coding scheme the read window holds 24 data bytes in words 0..5; the encoding
 * itself lives with the key layout (crypto/efuse-key-layout.ts).
 */

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

/** The data bytes software can read from a key block's read window (24 under 3/4, else 32). */
export function blockDataBytes(rdata: readonly number[], threeFour: boolean): Buffer {
  return wordsToBytes(rdata.slice(0, threeFour ? 6 : 8));
}
