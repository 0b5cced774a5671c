import { createHash } from 'node:crypto';
import type { EcPrivateKey } from './signing-key';

/**
 * The "reflashable" secure boot key: SHA-256 of the bare 32-byte private scalar, cut to 24 bytes
 * for chips with the 3/4 coding scheme. Deriving it from the signing key means one secret to keep.
 */
export function digestPrivateKey(key: EcPrivateKey, keylen: 256 | 192): Uint8Array {
  const d = createHash('sha256').update(key.d).digest();
  return new Uint8Array(d.subarray(0, keylen / 8));
}
