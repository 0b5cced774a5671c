import * as tables from './aes-tables';

// Bind the tables to module-local constants: when this module is loaded through a CommonJS
// transform (tsx, mocha), named imports become getter calls, which made the hot loop ~10x slower.
const S = tables.SBOX;
const IS = tables.INV_SBOX;
const TE0 = tables.TE0;
const TE1 = tables.TE1;
const TE2 = tables.TE2;
const TE3 = tables.TE3;
const TD0 = tables.TD0;
const TD1 = tables.TD1;
const TD2 = tables.TD2;
const TD3 = tables.TD3;
const IMC0 = tables.IMC0;
const IMC1 = tables.IMC1;
const IMC2 = tables.IMC2;
const IMC3 = tables.IMC3;

/**
 * A table-driven AES-256 whose key schedule is cheap enough to run once per 32 bytes, which is
 * what ESP32 flash encryption needs (a new tweaked key for every 32-byte block: creating a
 * node:crypto cipher that often costs far more than the AES itself).
 *
 * Blocks are addressed as four 32-bit words in REVERSED order: the state is
 * (buf[j+3], buf[j+2], buf[j+1], buf[j]). On a little-endian view of memory that is exactly the
 * ESP32's "reverse the 16 bytes before and after AES", so the flash code needs no byte shuffling.
 * Round keys are big-endian words, as in FIPS-197.
 */

export const ROUND_KEY_WORDS = 60;

/** FIPS-197 key expansion for a 256-bit key given as 8 big-endian words. */
export function expandKey(key: Int32Array, ek: Int32Array): void {
  for (let i = 0; i < 8; i++) ek[i] = key[i]!;
  let rcon = 1;
  for (let i = 8; i < 60; i++) {
    let t = ek[i - 1]!;
    if ((i & 7) === 0) {
      t = ((S[(t >>> 16) & 255]! << 24) | (S[(t >>> 8) & 255]! << 16) | (S[t & 255]! << 8) | S[t >>> 24]!) ^ (rcon << 24);
      rcon = rcon << 1;
    } else if ((i & 7) === 4) {
      t = (S[t >>> 24]! << 24) | (S[(t >>> 16) & 255]! << 16) | (S[(t >>> 8) & 255]! << 8) | S[t & 255]!;
    }
    ek[i] = ek[i - 8]! ^ t;
  }
}

/**
 * Expansion straight into "equivalent inverse cipher" round keys (round order reversed,
 * InvMixColumns applied to rounds 1..13), so decryption can use the same table shape. Fused
 * because the flash "encrypt" direction needs this once per 32 bytes. `ek` is scratch.
 */
export function expandDecryptKey(key: Int32Array, ek: Int32Array, dk: Int32Array): void {
  expandKey(key, ek);
  for (let c = 0; c < 4; c++) {
    dk[c] = ek[56 + c]!;
    dk[56 + c] = ek[c]!;
  }
  for (let i = 4; i < 56; i++) {
    const w = ek[i]!;
    dk[56 - (i & ~3) + (i & 3)] = IMC0[w >>> 24]! ^ IMC1[(w >>> 16) & 255]! ^ IMC2[(w >>> 8) & 255]! ^ IMC3[w & 255]!;
  }
}

/** Encrypts the block whose state is (buf[j+3], buf[j+2], buf[j+1], buf[j]) in place. */
export function encryptRev(ek: Int32Array, buf: Int32Array, j: number): void {
  let s0 = buf[j + 3]! ^ ek[0]!;
  let s1 = buf[j + 2]! ^ ek[1]!;
  let s2 = buf[j + 1]! ^ ek[2]!;
  let s3 = buf[j]! ^ ek[3]!;
  let k = 4;
  for (let r = 1; r < 14; r++) {
    const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 255]! ^ TE2[(s2 >>> 8) & 255]! ^ TE3[s3 & 255]! ^ ek[k]!;
    const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 255]! ^ TE2[(s3 >>> 8) & 255]! ^ TE3[s0 & 255]! ^ ek[k + 1]!;
    const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 255]! ^ TE2[(s0 >>> 8) & 255]! ^ TE3[s1 & 255]! ^ ek[k + 2]!;
    const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 255]! ^ TE2[(s1 >>> 8) & 255]! ^ TE3[s2 & 255]! ^ ek[k + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
    k += 4;
  }
  buf[j + 3] = ((S[s0 >>> 24]! << 24) | (S[(s1 >>> 16) & 255]! << 16) | (S[(s2 >>> 8) & 255]! << 8) | S[s3 & 255]!) ^ ek[56]!;
  buf[j + 2] = ((S[s1 >>> 24]! << 24) | (S[(s2 >>> 16) & 255]! << 16) | (S[(s3 >>> 8) & 255]! << 8) | S[s0 & 255]!) ^ ek[57]!;
  buf[j + 1] = ((S[s2 >>> 24]! << 24) | (S[(s3 >>> 16) & 255]! << 16) | (S[(s0 >>> 8) & 255]! << 8) | S[s1 & 255]!) ^ ek[58]!;
  buf[j] = ((S[s3 >>> 24]! << 24) | (S[(s0 >>> 16) & 255]! << 16) | (S[(s1 >>> 8) & 255]! << 8) | S[s2 & 255]!) ^ ek[59]!;
}

/** Decrypts the block whose state is (buf[j+3], buf[j+2], buf[j+1], buf[j]) in place. */
export function decryptRev(dk: Int32Array, buf: Int32Array, j: number): void {
  let s0 = buf[j + 3]! ^ dk[0]!;
  let s1 = buf[j + 2]! ^ dk[1]!;
  let s2 = buf[j + 1]! ^ dk[2]!;
  let s3 = buf[j]! ^ dk[3]!;
  let k = 4;
  for (let r = 1; r < 14; r++) {
    const t0 = TD0[s0 >>> 24]! ^ TD1[(s3 >>> 16) & 255]! ^ TD2[(s2 >>> 8) & 255]! ^ TD3[s1 & 255]! ^ dk[k]!;
    const t1 = TD0[s1 >>> 24]! ^ TD1[(s0 >>> 16) & 255]! ^ TD2[(s3 >>> 8) & 255]! ^ TD3[s2 & 255]! ^ dk[k + 1]!;
    const t2 = TD0[s2 >>> 24]! ^ TD1[(s1 >>> 16) & 255]! ^ TD2[(s0 >>> 8) & 255]! ^ TD3[s3 & 255]! ^ dk[k + 2]!;
    const t3 = TD0[s3 >>> 24]! ^ TD1[(s2 >>> 16) & 255]! ^ TD2[(s1 >>> 8) & 255]! ^ TD3[s0 & 255]! ^ dk[k + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
    k += 4;
  }
  buf[j + 3] = ((IS[s0 >>> 24]! << 24) | (IS[(s3 >>> 16) & 255]! << 16) | (IS[(s2 >>> 8) & 255]! << 8) | IS[s1 & 255]!) ^ dk[56]!;
  buf[j + 2] = ((IS[s1 >>> 24]! << 24) | (IS[(s0 >>> 16) & 255]! << 16) | (IS[(s3 >>> 8) & 255]! << 8) | IS[s2 & 255]!) ^ dk[57]!;
  buf[j + 1] = ((IS[s2 >>> 24]! << 24) | (IS[(s1 >>> 16) & 255]! << 16) | (IS[(s0 >>> 8) & 255]! << 8) | IS[s3 & 255]!) ^ dk[58]!;
  buf[j] = ((IS[s3 >>> 24]! << 24) | (IS[(s2 >>> 16) & 255]! << 16) | (IS[(s1 >>> 8) & 255]! << 8) | IS[s0 & 255]!) ^ dk[59]!;
}

function beWords(bytes: Uint8Array, n: number): Int32Array {
  const w = new Int32Array(n);
  for (let i = 0; i < n; i++) w[i] = ((bytes[4 * i]! << 24) | (bytes[4 * i + 1]! << 16) | (bytes[4 * i + 2]! << 8) | bytes[4 * i + 3]!) >>> 0;
  return w;
}

/** Plain single-block AES-256 (ECB) on bytes; slow path, used to cross-check against node:crypto. */
export function aes256Block(key: Uint8Array, block: Uint8Array, direction: 'encrypt' | 'decrypt'): Uint8Array {
  const ek = new Int32Array(ROUND_KEY_WORDS);
  expandKey(beWords(key, 8), ek);
  let rk = ek;
  if (direction === 'decrypt') {
    rk = new Int32Array(ROUND_KEY_WORDS);
    expandDecryptKey(beWords(key, 8), ek, rk);
  }
  const w = beWords(block, 4);
  const state = new Int32Array([w[3]!, w[2]!, w[1]!, w[0]!]);
  if (direction === 'encrypt') encryptRev(rk, state, 0);
  else decryptRev(rk, state, 0);
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const v = state[3 - i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = (v >>> 16) & 255;
    out[4 * i + 2] = (v >>> 8) & 255;
    out[4 * i + 3] = v & 255;
  }
  return out;
}
