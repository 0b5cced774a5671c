import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { makeDirs, readInputFile, writeFileAtomic } from '../util/atomic-file';
import { fingerprint } from '../util/fingerprint';
import { gitExposureWarning } from './git-check';

import { FLASH_KEY_FILE, SECURE_BOOT_KEY_FILE, SIGNING_KEY_FILE, SIGNING_KEY_REF_FILE } from './file-names';

export { FLASH_KEY_FILE, SECURE_BOOT_KEY_FILE, SIGNING_KEY_FILE, SIGNING_KEY_REF_FILE } from './file-names';
export const AUDIT_FILE = 'audit.jsonl';
export const DEVICES_DIR = 'devices';
export const DEFAULT_KEY_STORE = 'secure';

/** One flash key for every board (Pycom's documented way) or one per board (Espressif's production advice). */
export type FlashKeyMode = 'shared' | 'per-device';

export interface FlashKeyResult {
  path: string;
  key: Uint8Array;
  /** True when this call generated the key (first use for that board). */
  created: boolean;
  fingerprint: string;
}

/** Canonical MAC text `aa:bb:cc:dd:ee:ff`; refuses anything else so paths stay predictable. */
export function normaliseMac(mac: string): string {
  const hex = mac.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new UserError('E_MAC', `"${mac}" is not a MAC address; write it as six hex bytes such as 24:0a:c4:12:34:56.`);
  return hex.match(/../g)!.join(':');
}

/** Directory name for a board: the MAC with dashes, because colons are not allowed in Windows paths. */
export function macDirName(mac: string): string {
  return normaliseMac(mac).replace(/:/g, '-');
}

export class KeyStore {
  readonly dir: string;
  constructor(dir: string = DEFAULT_KEY_STORE) {
    this.dir = path.resolve(dir);
  }

  /**
   * The store a user named (--key-store, a setting): as the constructor, but a path that exists and
   * is not a folder (a key file given as the store) is refused. Errors: E_NOT_A_STORE.
   */
  static named(dir: string): KeyStore {
    let isFile = false;
    try {
      isFile = !fs.statSync(dir).isDirectory();
    } catch {
      isFile = false; // missing: a store that does not exist yet
    }
    if (isFile) {
      throw new UserError('E_NOT_A_STORE', `The key store ${dir} is a file, not a folder: a key store is the folder that holds the keys (such as secure/, with flash_encryption_key.bin in it); give that folder.`);
    }
    return new KeyStore(dir);
  }

  /**
   * The key store a flash-encryption key file belongs to, from the store's layout: the folder of
   * `KEY_STORE/flash_encryption_key.bin`, or KEY_STORE for `KEY_STORE/devices/<MAC>/flash_encryption_key.bin`;
   * undefined for a file named otherwise (it may be anywhere). Lets a command given only the key
   * record its run beside the key instead of in `secure/` of the current folder.
   */
  static holding(flashKeyFile: string): string | undefined {
    const file = path.resolve(flashKeyFile);
    if (path.basename(file) !== FLASH_KEY_FILE) return undefined;
    const dir = path.dirname(file);
    return path.basename(path.dirname(dir)) === DEVICES_DIR ? path.dirname(path.dirname(dir)) : dir;
  }

  get signingKeyPath(): string {
    return path.join(this.dir, SIGNING_KEY_FILE);
  }
  get signingKeyRefPath(): string {
    return path.join(this.dir, SIGNING_KEY_REF_FILE);
  }
  get secureBootKeyPath(): string {
    return path.join(this.dir, SECURE_BOOT_KEY_FILE);
  }

  /**
   * The store's signing key: the PEM file, or the token reference file; undefined when it has
   * neither. UserError E_TWO_SIGNING_KEYS when it has both (which one signs must never be a guess).
   */
  signingKeyFile(): string | undefined {
    const pem = fs.existsSync(this.signingKeyPath);
    const ref = fs.existsSync(this.signingKeyRefPath);
    if (pem && ref) {
      throw new UserError('E_TWO_SIGNING_KEYS', `The key store ${this.dir} holds both ${SIGNING_KEY_FILE} and ${SIGNING_KEY_REF_FILE}, so which key signs is unclear; move the one your boards do not use out of the store.`);
    }
    return pem ? this.signingKeyPath : ref ? this.signingKeyRefPath : undefined;
  }

  get sharedFlashKeyPath(): string {
    return path.join(this.dir, FLASH_KEY_FILE);
  }
  get auditPath(): string {
    return path.join(this.dir, AUDIT_FILE);
  }
  deviceFlashKeyPath(mac: string): string {
    return path.join(this.dir, DEVICES_DIR, macDirName(mac), FLASH_KEY_FILE);
  }

  /**
   * Whether the store holds any board's own flash-encryption key (devices/<MAC>/flash_encryption_key.bin):
   * then its flash_encryption_key.bin is (or may be) only the build key, and a board's key takes its MAC.
   */
  hasDeviceKeys(): boolean {
    const devices = path.join(this.dir, DEVICES_DIR);
    try {
      return fs.readdirSync(devices).some((d) => fs.existsSync(path.join(devices, d, FLASH_KEY_FILE)));
    } catch {
      return false;
    }
  }

  /**
   * The flash-encryption key file to use for a board: its own (`devices/<MAC>/`) when the store
   * has one, else the shared one; undefined when the store has neither. Without a MAC, the shared
   * one. Only the path: reading it is the caller's (readHardwareKeyFile checks its length).
   */
  flashKeyFileFor(mac?: string): string | undefined {
    const own = mac !== undefined ? this.deviceFlashKeyPath(mac) : undefined;
    if (own !== undefined && fs.existsSync(own)) return own;
    return fs.existsSync(this.sharedFlashKeyPath) ? this.sharedFlashKeyPath : undefined;
  }

  /** Warning sentence when the store could be committed to git by accident. */
  exposureWarning(): string | undefined {
    return gitExposureWarning(this.dir);
  }

  /**
   * Warning sentences for loose permissions (POSIX modes; none on Windows): a store folder other
   * users can write (they could swap a key or the audit log), and key files or the audit log
   * other users can read.
   */
  permissionWarnings(): string[] {
    if (process.platform === 'win32') return [];
    const out: string[] = [];
    const mode = (f: string): number | undefined => {
      try {
        const st = fs.lstatSync(f);
        return st.isSymbolicLink() ? undefined : st.mode & 0o777;
      } catch {
        return undefined;
      }
    };
    const dirMode = mode(this.dir);
    if (dirMode !== undefined && (dirMode & 0o022) !== 0) {
      out.push(`The key store folder ${this.dir} can be written by other users (mode ${dirMode.toString(8)}), who could replace a key or the audit log; make it private with chmod 700 "${this.dir}".`);
    }
    const files = [this.signingKeyPath, this.sharedFlashKeyPath, this.auditPath];
    const devices = path.join(this.dir, DEVICES_DIR);
    try {
      for (const d of fs.readdirSync(devices)) files.push(path.join(devices, d, FLASH_KEY_FILE));
    } catch {
      /* no per-device keys */
    }
    for (const f of files) {
      const m = mode(f);
      if (m !== undefined && (m & 0o044) !== 0) out.push(`${f} can be read by other users (mode ${m.toString(8)}); make it private with chmod 600 "${f}".`);
    }
    return out;
  }

  /** Creates the store's folder (0700, with its parents) when missing; true when it was created. */
  ensureDir(): boolean {
    return makeDirs(this.dir, { mode: 0o700, what: 'key folder' });
  }

  /**
   * The flash-encryption key for a board. Per-device keys are generated on first use (0600,
   * never overwritten); the shared key must already exist (it is generated explicitly, once).
   * `length` is 32, or 24 on chips with the 3/4 coding scheme.
   */
  flashKeyFor(mac: string, mode: FlashKeyMode, length: 24 | 32): FlashKeyResult {
    const file = mode === 'shared' ? this.sharedFlashKeyPath : this.deviceFlashKeyPath(mac);
    if (fs.existsSync(file)) {
      const key = readInputFile(file, 'flash-encryption key file');
      return { path: file, key, created: false, fingerprint: fingerprint(key) };
    }
    if (mode === 'shared') {
      throw new UserError('E_NO_KEY', `There is no shared flash-encryption key at ${file}; generate one first (pycom-secure generate-flash-encryption-key) or use per-device keys.`);
    }
    const key = new Uint8Array(randomBytes(length));
    return { path: file, key, created: true, fingerprint: this.saveDeviceFlashKey(mac, key) };
  }

  /**
   * Writes `key` as the board's own flash-encryption key (devices/<MAC>/, folder 0700, file 0600),
   * never over an existing file (E_EXISTS). Returns its fingerprint.
   */
  saveDeviceFlashKey(mac: string, key: Uint8Array): string {
    const file = this.deviceFlashKeyPath(mac);
    makeDirs(path.dirname(file), { mode: 0o700, what: 'key folder' });
    writeFileAtomic(file, key, { mode: 0o600, exclusive: true, what: 'flash-encryption key file' });
    return fingerprint(key);
  }
}
