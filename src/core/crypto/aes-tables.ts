/**
 * AES lookup tables, computed once at load time from the field arithmetic rather than pasted
 * in, so there is no 8 KiB of opaque hex to review. Words are big-endian column encodings.
 */

function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;
}

function gmul(a: number, b: number): number {
  let r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a = xtime(a);
    b >>= 1;
  }
  return r;
}

export const SBOX = new Uint8Array(256);
export const INV_SBOX = new Uint8Array(256);
export const TE0 = new Int32Array(256);
export const TE1 = new Int32Array(256);
export const TE2 = new Int32Array(256);
export const TE3 = new Int32Array(256);
export const TD0 = new Int32Array(256);
export const TD1 = new Int32Array(256);
export const TD2 = new Int32Array(256);
export const TD3 = new Int32Array(256);
/** InvMixColumns of a single byte in each row position (TDn composed with SBOX), for round keys. */
export const IMC0 = new Int32Array(256);
export const IMC1 = new Int32Array(256);
export const IMC2 = new Int32Array(256);
export const IMC3 = new Int32Array(256);

const rotr8 = (w: number): number => ((w >>> 8) | (w << 24)) >>> 0;

(function build(): void {
  // Walk the multiplicative group with generator 3 to get inverses without a division routine.
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x = x ^ xtime(x);
  }
  for (let i = 0; i < 256; i++) {
    const inv = i === 0 ? 0 : exp[(255 - log[i]!) % 255]!;
    let s = inv;
    for (let k = 1; k <= 4; k++) s ^= ((inv << k) | (inv >>> (8 - k))) & 0xff;
    s ^= 0x63;
    SBOX[i] = s;
    INV_SBOX[s] = i;
  }
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const e = ((gmul(s, 2) << 24) | (s << 16) | (s << 8) | gmul(s, 3)) >>> 0;
    TE0[i] = e;
    TE1[i] = rotr8(e);
    TE2[i] = rotr8(TE1[i]!);
    TE3[i] = rotr8(TE2[i]!);
    const v = INV_SBOX[i]!;
    const d = ((gmul(v, 14) << 24) | (gmul(v, 9) << 16) | (gmul(v, 13) << 8) | gmul(v, 11)) >>> 0;
    TD0[i] = d;
    TD1[i] = rotr8(d);
    TD2[i] = rotr8(TD1[i]!);
    TD3[i] = rotr8(TD2[i]!);
  }
  for (let i = 0; i < 256; i++) {
    IMC0[i] = TD0[SBOX[i]!]!;
    IMC1[i] = TD1[SBOX[i]!]!;
    IMC2[i] = TD2[SBOX[i]!]!;
    IMC3[i] = TD3[SBOX[i]!]!;
  }
})();
