/**
 * The ESP32 "3/4" eFuse coding scheme for BLOCK1..3 (ESP32 TRM, eFuse controller chapter; espefuse
 * esp32 fields.py): 24 data bytes in
 * register byte order are split into four 6-byte groups, each stored as 8 bytes
 * `g0..g5 X S` with X = XOR of the six bytes and S = Σ i·popcount(g_{i-1}) (i = 1..6).
 * The one implementation of the scheme: the virtual controller, the burn engine and the key-file
 * layout (crypto/efuse-key-layout.ts) all encode and decode through it.
 */
export const DATA_BYTES_34 = 24;

function popcount8(b: number): number {
  let n = 0;
  for (let v = b; v; v &= v - 1) n++;
  return n;
}

/** The two check bytes of one 6-byte group: XOR, and Σ i·popcount(byte_i) for i = 1..6. */
export function codingCheckBytes(group: Uint8Array): [number, number] {
  let xor = 0;
  let sum = 0;
  group.forEach((b, i) => {
    xor ^= b;
    sum += (i + 1) * popcount8(b);
  });
  return [xor, sum & 0xff];
}

function checkBytes(group: Uint8Array): [number, number] {
  return codingCheckBytes(group);
}

/** 24 data bytes → the 8 words written to WDATA0..7. */
export function encode34(data: Uint8Array): number[] {
  if (data.length !== DATA_BYTES_34) throw new RangeError(`3/4 coding takes ${DATA_BYTES_34} bytes, got ${data.length}`);
  const out = Buffer.alloc(32);
  for (let g = 0; g < 4; g++) {
    const group = data.subarray(6 * g, 6 * g + 6);
    out.set(group, 8 * g);
    const [x, s] = checkBytes(group);
    out[8 * g + 6] = x;
    out[8 * g + 7] = s;
  }
  return Array.from({ length: 8 }, (_, i) => out.readUInt32LE(4 * i));
}

export interface Decoded34 {
  /** The 24 data bytes (register byte order). */
  data: Buffer;
  /** Per 6-byte group: true when its check bytes do not match its data. */
  groupErrors: boolean[];
}

/** The 8 raw (encoded) words of a block → data bytes and per-group check results. */
export function decode34(rawWords: readonly number[]): Decoded34 {
  if (rawWords.length !== 8) throw new RangeError('a 3/4-coded block has 8 raw words');
  const raw = Buffer.alloc(32);
  rawWords.forEach((w, i) => raw.writeUInt32LE(w >>> 0, 4 * i));
  const data = Buffer.alloc(DATA_BYTES_34);
  const groupErrors: boolean[] = [];
  for (let g = 0; g < 4; g++) {
    const group = raw.subarray(8 * g, 8 * g + 6);
    data.set(group, 6 * g);
    const [x, s] = checkBytes(group);
    groupErrors.push(x !== raw[8 * g + 6] || s !== raw[8 * g + 7]);
  }
  return { data, groupErrors };
}

/** Data bytes → the six read-window words RDATA0..5 (little-endian). */
export function dataToWords34(data: Uint8Array): number[] {
  const b = Buffer.from(data);
  return Array.from({ length: 6 }, (_, i) => b.readUInt32LE(4 * i));
}
