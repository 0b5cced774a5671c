import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyMaterialIn } from '../keystore/key-material';
import { UserError } from '../errors';
import { readInputFile, writeFileAtomic } from '../util/atomic-file';
import { fingerprint } from '../util/fingerprint';
import { keyContentHint } from './key-content';
import { type EcPrivateKey, parseSigningKey, parseVerifyingKey } from '../crypto/signing-key';

/**
 * Key files on disk. Reading checks the length/format and names the file on failure; writing is
 * atomic, mode 0600 and never replaces an existing file (a silently replaced key can brick a
 * device that already has the old one burned). Messages carry fingerprints, never key bytes.
 */

export const KEY_FILE_MODE = 0o600;

/** 'secure-boot': a key to burn into BLOCK2 (256 or 192 bits); 'digest': any key espsecure's digest takes (128 bits too). */
export type HardwareKeyUse = 'flash-encryption' | 'secure-boot' | 'digest';

const LENGTHS: Record<HardwareKeyUse, readonly number[]> = {
  'flash-encryption': [32, 24],
  'secure-boot': [32, 24],
  digest: [32, 24, 16],
};

/** A flash encryption or secure boot key (.bin) in key file order. */
export function readHardwareKeyFile(file: string, use: HardwareKeyUse): Uint8Array {
  const what = use === 'flash-encryption' ? 'flash encryption key file' : 'secure boot key file';
  const lengths = LENGTHS[use];
  const bytes = readInputFile(file, what);
  if (!lengths.includes(bytes.length)) {
    const want = use === 'digest' ? '32 bytes (or 24 for the 3/4 coding scheme, 16 for a 128-bit key)' : '32 bytes (or 24 for the 3/4 coding scheme)';
    // 64 raw bytes is the length of the public key X||Y (extract_public_key), a common mix-up for the secure boot key.
    const hint = keyContentHint(bytes, file) || (use !== 'flash-encryption' && bytes.length === 64 ? 'that is the length of the raw public key (extract_public_key), not of the secure boot key, which digest-private-key derives from the signing key' : '');
    throw new UserError('E_KEY_LENGTH', `The ${what} ${file} holds ${bytes.length} bytes but must hold ${want}; ${hint || 'check that you passed the right file'}.`);
  }
  return new Uint8Array(bytes);
}

export function readSigningKeyFile(file: string): EcPrivateKey {
  return parseSigningKey(readInputFile(file, 'signing key file'), file);
}

/** X‖Y of a verification key (private SEC1 PEM, PUBLIC KEY PEM, or raw 64 bytes). */
export function readVerifyingKeyFile(file: string): Uint8Array {
  return parseVerifyingKey(readInputFile(file, 'key file'), file);
}

/** Writes a new secret key file; refuses to replace anything. Returns the key's fingerprint. */
export function writeNewKeyFile(file: string, bytes: Uint8Array | string): string {
  const abs = path.resolve(file);
  if (fs.existsSync(abs)) {
    if (!keyMaterialIn(abs)) {
      throw new UserError('E_EXISTS', `${abs} already exists${fs.statSync(abs).isDirectory() ? ' and is a folder' : ''}, and a new key is never written over anything; give a path where no file is yet.`);
    }
    throw new UserError('E_EXISTS', `A key file already exists at ${abs} and key files are never overwritten; keep it if a device uses it, or move it away and run the command again.`);
  }
  writeFileAtomic(file, typeof bytes === 'string' ? Buffer.from(bytes) : bytes, { mode: KEY_FILE_MODE, exclusive: true, what: 'key file' });
  return fingerprint(bytes);
}
