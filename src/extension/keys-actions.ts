import * as path from 'node:path';
import { encodeSec1Pem, fingerprint, generateFlashEncryptionKey, generateSecureBootKey, generateSigningKey, KeyStore, withKeyStoreLockSync, writeNewKeyFile } from '../core';

export interface GeneratedKey {
  what: string;
  path: string;
  fingerprint: string;
}

/**
 * Generates the keys the store is missing: the secure boot signing key (or, when the store's
 * signing key is in a token, the random secure boot key) and, unless keys are per-device
 * (created when a board is first burned), the shared flash-encryption key.
 * Existing keys are kept: the core refuses to overwrite key files. The keys are written holding
 * the store's lock (withKeyStoreLockSync): a store another run of this tool holds (a provision,
 * Burn Keys) is refused with the lock's sentence (E_KEY_STORE_LOCKED) and nothing is written.
 */
export function generateMissingKeys(dir: string, perDevice: boolean, exists: (p: string) => boolean): { created: GeneratedKey[]; kept: string[] } {
  const ks = new KeyStore(dir);
  ks.ensureDir();
  return withKeyStoreLockSync(ks.dir, 'Generate Keys', () => generateLocked(ks, perDevice, exists));
}

function generateLocked(ks: KeyStore, perDevice: boolean, exists: (p: string) => boolean): { created: GeneratedKey[]; kept: string[] } {
  const created: GeneratedKey[] = [];
  const kept: string[] = [];
  if (exists(ks.signingKeyPath)) kept.push(path.basename(ks.signingKeyPath));
  else if (exists(ks.signingKeyRefPath)) {
    // The signing key stays in a token: no PEM beside it; BLOCK2 then needs the random secure boot key.
    kept.push(path.basename(ks.signingKeyRefPath));
    if (exists(ks.secureBootKeyPath)) kept.push(path.basename(ks.secureBootKeyPath));
    else created.push({ what: 'secure boot key', path: ks.secureBootKeyPath, fingerprint: generateSecureBootKey(ks.secureBootKeyPath, 256) });
  } else {
    const key = generateSigningKey();
    writeNewKeyFile(ks.signingKeyPath, encodeSec1Pem(key));
    // Signing keys are named by their public key's fingerprint, like the CLI does.
    created.push({ what: 'signing key', path: ks.signingKeyPath, fingerprint: fingerprint(key.publicKey) });
  }
  if (!perDevice) {
    if (exists(ks.sharedFlashKeyPath)) kept.push(path.basename(ks.sharedFlashKeyPath));
    else created.push({ what: 'flash-encryption key', path: ks.sharedFlashKeyPath, fingerprint: writeNewKeyFile(ks.sharedFlashKeyPath, generateFlashEncryptionKey(256)) });
  }
  return { created, kept };
}
