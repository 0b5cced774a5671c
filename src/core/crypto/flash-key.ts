import { randomBytes } from 'node:crypto';

/** A random flash encryption key: 32 bytes (coding scheme None) or 24 bytes (3/4 coding). */
export function generateFlashEncryptionKey(keylen: 256 | 192): Uint8Array {
  return new Uint8Array(randomBytes(keylen / 8));
}
