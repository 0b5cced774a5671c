import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { keyContentHint } from '../keys/key-content';

/**
 * Turns a hardware key file (secure boot or flash encryption) into the 32-byte AES-256 key the
 * ESP32 actually uses. 24-byte keys come from chips with the 3/4 coding scheme, whose hardware
 * extends them by repeating bytes 8..15; 16-byte keys are hashed (espsecure allows that for the
 * digest only).
 */
export function normaliseHardwareKey(key: Uint8Array, use: 'digest' | 'flash-encryption'): Uint8Array {
  if (key.length === 32) return Uint8Array.from(key);
  if (key.length === 24) {
    const out = new Uint8Array(32);
    out.set(key, 0);
    out.set(key.subarray(8, 16), 24);
    return out;
  }
  if (key.length === 16 && use === 'digest') return new Uint8Array(createHash('sha256').update(key).digest());
  const allowed = use === 'digest' ? '16, 24 or 32' : '24 (3/4 coding scheme) or 32';
  throw new UserError(
    'E_KEY_LENGTH',
    `The key file holds ${key.length} bytes but an ESP32 ${use === 'digest' ? 'secure boot' : 'flash encryption'} key must be ${allowed} bytes; ${keyContentHint(key) || 'check that you passed the right key file'}.`,
  );
}
