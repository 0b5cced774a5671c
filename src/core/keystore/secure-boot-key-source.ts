import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { digestPrivateKey } from '../crypto/secure-boot-key';
import { readHardwareKeyFile, writeNewKeyFile } from '../keys/key-files';
import { pemPrivateKey, signingPublicKey, tokenUriOf } from '../keys/signer';
import { fingerprint } from '../util/fingerprint';
import type { KeyStore } from './key-store';

/**
 * Where the secure boot key (what BLOCK2 holds, the key the bootloader digest is made with) comes
 * from. Pycom's flow derives it: SHA-256 of the PEM signing key's private scalar (espsecure
 * digest_private_key). A signing key in a token cannot give it, so the store then keeps a random
 * one, secure_boot_key.bin, like the flash-encryption key. Either is a 256-bit key, or its first
 * 192 bits on chips with the 3/4 coding scheme.
 */
export type SecureBootKeyOrigin = 'derived' | 'random';

export interface SecureBootKeySource {
  key: Uint8Array;
  origin: SecureBootKeyOrigin;
  /** The file it was read or derived from. */
  file: string;
  fingerprint: string;
}

/** One phrase for plans, records and messages: where BLOCK2's key comes from (fingerprint, never bytes). */
export function describeSecureBootKey(s: SecureBootKeySource): string {
  return s.origin === 'random'
    ? `the random secure boot key ${s.file} (fingerprint ${s.fingerprint})`
    : `the secure boot key derived from the signing key ${s.file} (SHA-256 of its private key, fingerprint ${s.fingerprint})`;
}

/**
 * The store's secure boot key for `bits` (256, or 192 with 3/4 coding): the random
 * secure_boot_key.bin when the store has one, else derived from its PEM signing key; undefined
 * when the store has neither. UserError when the store's signing key is in a token and no random
 * key exists (nothing to derive from), or the random key is shorter than `bits`.
 */
export function storeSecureBootKey(store: KeyStore, bits: 256 | 192): SecureBootKeySource | undefined {
  if (fs.existsSync(store.secureBootKeyPath)) {
    const all = readHardwareKeyFile(store.secureBootKeyPath, 'digest');
    if (all.length * 8 < bits) {
      throw new UserError('E_KEY_LENGTH', `The secure boot key ${store.secureBootKeyPath} holds ${all.length * 8} bits but this chip needs ${bits}; make a ${bits}-bit one in another store with generate-secure-boot-key.`);
    }
    const key = all.subarray(0, bits / 8);
    return { key, origin: 'random', file: store.secureBootKeyPath, fingerprint: fingerprint(key) };
  }
  const signing = store.signingKeyFile();
  if (signing === undefined) return undefined;
  const key = digestPrivateKey(pemPrivateKey(signing, 'the secure boot key (BLOCK2)'), bits);
  return { key, origin: 'derived', file: signing, fingerprint: fingerprint(key) };
}

/** True when the store's signing key stays in a token (a pkcs11: reference). */
export function storeSigningKeyInToken(store: KeyStore): boolean {
  const f = store.signingKeyFile();
  return f !== undefined && tokenUriOf(f) !== undefined;
}

/**
 * Writes a new random secure boot key (`bits` 256 or 192) to `file`, 0600, never replacing a
 * file; returns its fingerprint.
 */
export function generateSecureBootKey(file: string, bits: 256 | 192): string {
  return writeNewKeyFile(file, new Uint8Array(randomBytes(bits / 8)));
}

/**
 * The key store's signing key as the bootloader built with it checks signatures: its file (PEM or
 * token reference) and public key (64-byte X‖Y); undefined when the store holds none. Errors: the
 * key reader's UserError for an unreadable key.
 */
export function storeSigningPublicKey(store: KeyStore): { file: string; publicKey: Uint8Array } | undefined {
  const file = store.signingKeyFile();
  return file !== undefined ? { file, publicKey: signingPublicKey(file) } : undefined;
}
