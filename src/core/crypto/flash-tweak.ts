/**
 * The ESP32 per-32-byte-block key tweak (FLASH_CRYPT_CONFIG). Key bit n (MSB-first over the key
 * file bytes) is flipped when address bit PATTERN[n] is set and n's group is enabled. The tweak is
 * linear, so it is precomputed as one 256-bit mask per address bit.
 */

/** Address bits that can change the key: 5..23 (blocks are 32 bytes; the flash map is 16 MiB). */
export const FIRST_TWEAK_BIT = 5;
export const LAST_TWEAK_BIT = 23;
export const MAX_FLASH_ADDRESS = 0x1000000;

const GROUPS: ReadonlyArray<{ start: number; tail: number }> = [
  { start: 0, tail: 14 },
  { start: 67, tail: 12 },
  { start: 132, tail: 10 },
  { start: 195, tail: 8 },
];

/** PATTERN[n] = the address bit controlling key bit n; group[n] = its FLASH_CRYPT_CONFIG bit index. */
function buildPattern(): { bit: Uint8Array; group: Uint8Array } {
  const bit = new Uint8Array(256);
  const group = new Uint8Array(256);
  GROUPS.forEach((g, gi) => {
    let n = g.start;
    for (let run = 0; run < 3; run++) {
      for (let b = LAST_TWEAK_BIT; b >= FIRST_TWEAK_BIT; b--) {
        bit[n] = b;
        group[n++] = gi;
      }
    }
    for (let b = g.tail; b >= FIRST_TWEAK_BIT; b--) {
      bit[n] = b;
      group[n++] = gi;
    }
  });
  return { bit, group };
}

const PATTERN = buildPattern();

/**
 * masks[b] = the 8 big-endian key words to XOR in when address bit b is set, for this CONF.
 * Index 0..4 are unused (always zero).
 */
export function tweakMasks(flashCryptConf: number): Int32Array[] {
  const masks: Int32Array[] = [];
  for (let b = 0; b <= LAST_TWEAK_BIT; b++) masks.push(new Int32Array(8));
  for (let n = 0; n < 256; n++) {
    if (!((flashCryptConf >> PATTERN.group[n]!) & 1)) continue;
    const m = masks[PATTERN.bit[n]!]!;
    m[n >>> 5] = (m[n >>> 5]! | (1 << (31 - (n & 31)))) >>> 0;
  }
  return masks;
}

/** The tweaked key for the 32-byte block containing `address`, in key-file byte order. */
export function tweakedKey(key32: Uint8Array, address: number, flashCryptConf: number): Uint8Array {
  const masks = tweakMasks(flashCryptConf);
  const out = Uint8Array.from(key32);
  for (let b = FIRST_TWEAK_BIT; b <= LAST_TWEAK_BIT; b++) {
    if (!((address >>> b) & 1)) continue;
    const m = masks[b]!;
    for (let i = 0; i < 32; i++) out[i]! ^= (m[i >>> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
  }
  return out;
}
