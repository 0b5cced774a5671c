import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { ROUND_KEY_WORDS, decryptRev, encryptRev, expandDecryptKey, expandKey } from './aes256';
import { FIRST_TWEAK_BIT, LAST_TWEAK_BIT, MAX_FLASH_ADDRESS, tweakMasks } from './flash-tweak';

const TWEAK_BITS = ((1 << (LAST_TWEAK_BIT + 1)) - 1) & ~((1 << FIRST_TWEAK_BIT) - 1);
import { normaliseHardwareKey } from './key-normalise';

/**
 * ESP32 (original chip) flash encryption, as the ROM/cache sees it. "Encrypting" for flash uses
 * the AES *decryption* primitive and vice versa; each 16-byte block is byte-reversed around the
 * AES call, and the key is re-tweaked for every 32-byte block.
 */

export interface FlashCryptParams {
  /** Key file bytes: 32 (coding scheme None) or 24 (3/4 coding). */
  key: Uint8Array;
  /** Flash address of the first byte; multiple of 16, below 16 MiB. */
  address: number;
  /** FLASH_CRYPT_CONFIG efuse value 0x0..0xF. */
  flashCryptConf: number;
}

/** Value used to pad a plaintext to a whole 16-byte block: what erased flash reads as. */
export const PAD_BYTE = 0xff;

const HOST_IS_LE = new Uint8Array(new Int32Array([1]).buffer)[0] === 1;

function validate(p: FlashCryptParams, length: number): void {
  if (!Number.isInteger(p.flashCryptConf) || p.flashCryptConf < 0 || p.flashCryptConf > 0xf) {
    throw new UserError('E_CONF', `FLASH_CRYPT_CONFIG must be between 0x0 and 0xF (it is a 4-bit efuse), not ${String(p.flashCryptConf)}; use 0xF unless your chip has another value burned.`);
  }
  if (!Number.isInteger(p.address) || p.address < 0 || p.address % 16 !== 0) {
    throw new UserError('E_ADDRESS', `The flash address 0x${p.address.toString(16)} is not a multiple of 16; flash encryption works on 16-byte blocks, so give a 16-byte aligned address.`);
  }
  if (p.address + length > MAX_FLASH_ADDRESS) {
    throw new UserError('E_ADDRESS', `The data at 0x${p.address.toString(16)} (${length} bytes) would extend past 0x1000000; the ESP32 maps at most 16 MiB of flash, so check the address.`);
  }
}

function swapWords(u: Int32Array): void {
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!;
    u[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  }
}

function keyWords(key32: Uint8Array): Int32Array {
  const w = new Int32Array(8);
  for (let i = 0; i < 8; i++) w[i] = ((key32[4 * i]! << 24) | (key32[4 * i + 1]! << 16) | (key32[4 * i + 2]! << 8) | key32[4 * i + 3]!) >>> 0;
  return w;
}

/** Runs the whole buffer (a multiple of 16 bytes, 4-byte aligned, modified in place). */
function transform(buf: Uint8Array, p: FlashCryptParams, direction: 'encrypt' | 'decrypt'): void {
  const base = keyWords(normaliseHardwareKey(p.key, 'flash-encryption'));
  const masks = tweakMasks(p.flashCryptConf);
  const u = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  if (!HOST_IS_LE) swapWords(u);
  const cur = new Int32Array(8);
  const ek = new Int32Array(ROUND_KEY_WORDS);
  const dk = new Int32Array(ROUND_KEY_WORDS);
  const rk = direction === 'encrypt' ? dk : ek;
  let keyAddr = -1;
  for (let j = 0; j < u.length; j += 4) {
    const block = (p.address + j * 4) & ~0x1f;
    if (block !== keyAddr) {
      // Rebuild the schedule only when the tweaked key really changes (never, with CONF 0).
      const diff = keyAddr < 0 ? block : block ^ keyAddr;
      let changed = keyAddr < 0;
      if (keyAddr < 0) cur.set(base);
      for (let bits = diff & TWEAK_BITS; bits !== 0; bits &= bits - 1) {
        const m = masks[31 - Math.clz32(bits & -bits)]!;
        for (let i = 0; i < 8; i++) {
          if (m[i]) {
            cur[i]! ^= m[i]!;
            changed = true;
          }
        }
      }
      keyAddr = block;
      if (changed) {
        if (direction === 'encrypt') expandDecryptKey(cur, ek, dk);
        else expandKey(cur, ek);
      }
    }
    if (direction === 'encrypt') decryptRev(rk, u, j);
    else encryptRev(rk, u, j);
  }
  if (!HOST_IS_LE) swapWords(u);
}

/**
 * Plaintext → what must be written to flash at `address`. A length that is not a multiple of 16
 * is padded with 0xFF (espsecure pads with random bytes; 0xFF keeps the output reproducible, and
 * the bootloader never reads the padding).
 */
export function encryptFlashData(plain: Uint8Array, p: FlashCryptParams): Uint8Array {
  const len = Math.ceil(plain.length / 16) * 16;
  validate(p, len);
  const out = new Uint8Array(len);
  out.fill(PAD_BYTE, plain.length);
  out.set(plain);
  transform(out, p, 'encrypt');
  return out;
}

/** Flash contents read from `address` → plaintext. The length must be a multiple of 16. */
export function decryptFlashData(cipher: Uint8Array, p: FlashCryptParams): Uint8Array {
  if (cipher.length % 16 !== 0) {
    throw new UserError('E_LENGTH', `The encrypted data is ${cipher.length} bytes, not a multiple of 16; flash contents are always whole 16-byte blocks, so check that the file is complete.`);
  }
  validate(p, cipher.length);
  const id = cipher.length >= RECENT_MIN_BYTES ? recentId(cipher, p) : undefined;
  const hit = id === undefined ? undefined : recent.find((r) => r.id === id);
  if (hit) return hit.plain.slice();
  const out = new Uint8Array(cipher.length);
  out.set(cipher);
  transform(out, p, 'decrypt');
  if (id !== undefined) {
    recent.unshift({ id, plain: out.slice() });
    recent.length = Math.min(recent.length, RECENT_MAX);
  }
  return out;
}

// A flash run decrypts its app image several times over (the build check, the plan's checks, the
// boot prediction), about 130 ms each for 1.9 MB: the last few large results are kept, keyed by a
// SHA-256 over key, address, FLASH_CRYPT_CONFIG and ciphertext (a few ms), and handed out as copies.
// Plaintext firmware only; the key itself is not kept.
const RECENT_MIN_BYTES = 64 * 1024;
const RECENT_MAX = 3;
const recent: Array<{ id: string; plain: Uint8Array }> = [];

function recentId(cipher: Uint8Array, p: FlashCryptParams): string {
  const h = createHash('sha256');
  const head = Buffer.alloc(8);
  head.writeUInt32LE(p.address >>> 0, 0);
  head.writeUInt32LE(p.flashCryptConf >>> 0, 4);
  h.update(Uint8Array.of(p.key.length)).update(p.key).update(head).update(cipher);
  return h.digest('hex');
}
