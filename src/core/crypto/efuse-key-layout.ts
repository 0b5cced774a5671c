/**
 * How a key file ends up in the ESP32 eFuse key registers (BLOCK1..3, EFUSE_BLKn_WDATA0..7) when
 * espefuse burn_key writes it, and back. Used by the eFuse model and by key verification.
 *
 * - `reverse`: espefuse reverses the key file bytes only for the aliases `flash_encryption` and
 *   `secure_boot_v1` (the hardware reads the block byte-reversed); raw BLOCKn names do not.
 * - `coding: '3/4'`: 24 data bytes in four 6-byte groups, each followed by two check bytes.
 */

import { decode34, encode34 } from '../efuse/coding34';

/** Re-exported so existing callers keep one import; the scheme itself lives in efuse/coding34. */
export { codingCheckBytes } from '../efuse/coding34';

import { keyBytes, type CodingScheme } from '../chip/esp32';

export type { CodingScheme } from '../chip/esp32';

export interface KeyLayoutOptions {
  reverse: boolean;
  coding: CodingScheme;
}

export const BLOCK_WORDS = 8;

function wordsLE(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) out.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  return out;
}

function bytesLE(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => {
    out[4 * i] = w & 0xff;
    out[4 * i + 1] = (w >>> 8) & 0xff;
    out[4 * i + 2] = (w >>> 16) & 0xff;
    out[4 * i + 3] = (w >>> 24) & 0xff;
  });
  return out;
}

/** The data bytes as stored in the block (possibly reversed), before any coding. */
function blockData(key: Uint8Array, opts: KeyLayoutOptions): Uint8Array {
  const len = keyBytes(opts.coding);
  if (key.length !== len) {
    throw new RangeError(`a key for coding scheme ${opts.coding} must be ${len} bytes, not ${key.length}`);
  }
  const data = Uint8Array.from(key);
  if (opts.reverse) data.reverse();
  return data;
}

/** The 8 words written to EFUSE_BLKn_WDATA0..7 (3/4 coding: data groups with their check bytes). */
export function keyFileToBlockWords(key: Uint8Array, opts: KeyLayoutOptions): number[] {
  const data = blockData(key, opts);
  if (opts.coding === 'none') return wordsLE(data);
  return encode34(data);
}

/** The words read back in EFUSE_BLKn_RDATA: 8 for coding None, the 6 decoded data words for 3/4. */
export function keyFileToReadWords(key: Uint8Array, opts: KeyLayoutOptions): number[] {
  return wordsLE(blockData(key, opts));
}

/**
 * Inverse of keyFileToBlockWords / keyFileToReadWords: accepts the 8 written words, or for 3/4
 * coding also the 6 decoded read-back words. Throws when 3/4 check bytes do not match (a
 * corrupted or partially burned block).
 */
export function blockWordsToKeyFile(words: readonly number[], opts: KeyLayoutOptions): Uint8Array {
  let data: Uint8Array;
  if (opts.coding === 'none') {
    if (words.length !== BLOCK_WORDS) throw new RangeError(`coding scheme none needs ${BLOCK_WORDS} words, not ${words.length}`);
    data = bytesLE(words);
  } else if (words.length === 6) {
    data = bytesLE(words);
  } else if (words.length === BLOCK_WORDS) {
    const decoded = decode34(words);
    const bad = decoded.groupErrors.indexOf(true);
    if (bad >= 0) throw new RangeError(`3/4 coding check bytes of group ${bad} do not match its data`);
    data = Uint8Array.from(decoded.data);
  } else {
    throw new RangeError(`coding scheme 3/4 needs 8 raw or 6 decoded words, not ${words.length}`);
  }
  if (opts.reverse) data.reverse();
  return data;
}
