import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEVICES_DIR, fingerprint, FLASH_KEY_FILE, KeyStore, readHardwareKeyFile, signingPublicKey, storeSecureBootKey } from '../../core';
import type { KeyStoreListing } from '../trees/keys-nodes';

type Fp = { path: string; fingerprint: string };

/**
 * The bytes stay in these functions: only the fingerprint leaves. A file the core cannot parse
 * is listed as unreadable rather than hidden, so the user sees the store is not healthy.
 */
function fp(file: string, read: (f: string) => Uint8Array): Fp | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return { path: file, fingerprint: fingerprint(read(file)) };
  } catch {
    return { path: file, fingerprint: 'unreadable' };
  }
}
const flashKey = (f: string) => fp(f, (p) => readHardwareKeyFile(p, 'flash-encryption'));
/** A PEM key file, or a token reference (its public key read from the token, no PIN needed). */
const signingKey = (f: string) => fp(f, (p) => signingPublicKey(p));

/** Reads the key store for the Keys view. Undefined when the store does not exist or is empty. */
export function listKeyStore(dir: string): KeyStoreListing | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const ks = new KeyStore(dir);
  const devicesDir = path.join(ks.dir, DEVICES_DIR);
  const deviceKeys = fs.existsSync(devicesDir)
    ? fs.readdirSync(devicesDir).sort().flatMap((d) => {
        const k = flashKey(path.join(devicesDir, d, FLASH_KEY_FILE));
        return k ? [{ mac: d.replace(/-/g, ':'), ...k }] : [];
      })
    : [];
  let signingFile: string | undefined;
  try {
    signingFile = ks.signingKeyFile();
  } catch {
    signingFile = ks.signingKeyPath; // both a PEM and a token reference: listed as unreadable below
  }
  const signing = signingFile !== undefined ? signingKey(signingFile) : undefined;
  const flash = flashKey(ks.sharedFlashKeyPath);
  if (!signing && !flash && deviceKeys.length === 0) return undefined;
  const gitWarning = ks.exposureWarning();
  // The key Burn Keys puts in BLOCK2: the store's random one, else the digest of the PEM signing key (fingerprint only).
  let sbk: string | undefined;
  try {
    sbk = storeSecureBootKey(ks, 256)?.fingerprint;
  } catch {
    sbk = undefined;
  }
  return { dir: ks.dir, deviceKeys, ...(signing ? { signingKey: signing } : {}), ...(sbk ? { secureBootKey: sbk } : {}), ...(flash ? { flashKey: flash } : {}), ...(gitWarning ? { gitWarning } : {}) };
}
