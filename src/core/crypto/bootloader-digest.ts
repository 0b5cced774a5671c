import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { readEspImage } from '../image/esp-image';
import { normaliseHardwareKey } from './key-normalise';

/**
 * Secure boot v1 bootloader digest (reflashable mode): the 0x1000-byte block the ROM checks at
 * flash 0x0 (IV, then the SHA-512 over AES-encrypted image blocks), followed by the bootloader
 * image exactly as the ROM will read it.
 */

export const IV_LEN = 128;
export const DIGEST_OFFSET = 0x80;
export const IMAGE_OFFSET = 0x1000;
const BLOCK = 128;

/** Applies the ROM's view of the image length: drop a trailing partial hash block, pad with 0xFF. */
export function bootloaderDigestInput(image: Uint8Array, hashAppended: boolean): Uint8Array {
  let len = image.length;
  // The hardware reads whole 128-byte blocks up to the last one holding non-hash bytes, so an
  // appended SHA-256 that spills (fully or partly) into a new block is not covered.
  if (hashAppended && len % BLOCK <= 32) len -= len % BLOCK;
  const padded = Math.ceil(len / BLOCK) * BLOCK;
  const out = new Uint8Array(padded).fill(0xff);
  out.set(image.subarray(0, len));
  return out;
}

function reverseBlocks16(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  for (let i = 0; i < b.length; i += 16) for (let k = 0; k < 16; k++) out[i + k] = b[i + 15 - k]!;
  return out;
}

/** The 64-byte digest as stored at 0x80 (each 32-bit word byte-swapped). */
export function computeBootloaderDigest(key: Uint8Array, iv: Uint8Array, paddedImage: Uint8Array): Uint8Array {
  const aesKey = normaliseHardwareKey(key, 'digest');
  const msg = new Uint8Array(iv.length + paddedImage.length);
  msg.set(iv);
  msg.set(paddedImage, iv.length);
  // The key is fixed, so one ECB pass over the block-reversed buffer does every block at once.
  const cipher = createCipheriv('aes-256-ecb', aesKey, null).setAutoPadding(false);
  const enc = Buffer.concat([cipher.update(reverseBlocks16(msg)), cipher.final()]);
  const fed = Buffer.allocUnsafe(enc.length);
  for (let i = 0; i < enc.length; i += 16) {
    for (let w = 0; w < 4; w++) enc.copy(fed, i + 4 * w, i + 12 - 4 * w, i + 16 - 4 * w);
  }
  const d = createHash('sha512').update(fed).digest();
  return new Uint8Array(d.swap32());
}

export interface DigestResult {
  /** IV ‖ digest ‖ 0xFF up to 0x1000 ‖ image as covered by the digest; flash at 0x0. */
  output: Uint8Array;
  /** Bytes of the input the digest does not cover (dropped appended hash). */
  droppedBytes: number;
  paddedBytes: number;
}

/** `iv` defaults to 128 random bytes: any IV is valid because it is stored in the output. */
export function digestSecureBootloader(image: Uint8Array, key: Uint8Array, iv?: Uint8Array, what = 'The bootloader image'): DigestResult {
  const parsed = readEspImage(image, what);
  const theIv = iv ?? new Uint8Array(randomBytes(IV_LEN));
  if (theIv.length !== IV_LEN) {
    throw new UserError('E_IV_LENGTH', `The IV file holds ${theIv.length} bytes but the secure boot digest needs exactly ${IV_LEN}; omit --iv to use a random IV.`);
  }
  const padded = bootloaderDigestInput(image, parsed.hashAppended);
  const digest = computeBootloaderDigest(key, theIv, padded);
  const output = new Uint8Array(IMAGE_OFFSET + padded.length).fill(0xff);
  output.set(theIv, 0);
  output.set(digest, DIGEST_OFFSET);
  output.set(padded, IMAGE_OFFSET);
  const kept = Math.min(image.length, padded.length);
  return { output, droppedBytes: image.length - kept, paddedBytes: padded.length - kept };
}
