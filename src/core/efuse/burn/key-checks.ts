import { UserError } from '../../errors';
import { codingForKeyLength } from '../../chip/esp32';
import { keyContentHint } from '../../keys/key-content';

/** What the chip must be for this flow; anything else is refused before a bit is burned. */
export interface BurnTarget {
  /** Chip name as identified, e.g. "ESP32". */
  chip: string;
  /** Major silicon revision (0, 1, 2, 3). */
  revision: number;
  mac: string;
}

/**
 * Revisions accepted. Secure boot v1 and ESP32 flash encryption exist on every original-ESP32
 * revision (v2 needs rev 3, v1 does not go away there), and Pycom's 4 MB modules (LoPy, SiPy,
 * WiPy 2) carry revision 0 chips (Pycom's firmware takes the 4 MB layout for them:
 * esp32_get_chip_rev() in esp32/ftp/updater.c), so refusing rev 0 would lock out boards Pycom's
 * own secure flow supports. Anything else (an unknown revision number) is refused.
 */
export const SUPPORTED_REVISIONS: readonly number[] = [0, 1, 2, 3];

export function checkTarget(t: BurnTarget): void {
  if (t.chip.trim().toUpperCase() !== 'ESP32') {
    throw new UserError('E_CHIP', `The connected chip is ${t.chip}, not an original ESP32; this secure boot v1 / flash encryption flow is only for ESP32 boards, so nothing was burned.`);
  }
  if (!SUPPORTED_REVISIONS.includes(t.revision)) {
    throw new UserError('E_CHIP_REVISION', `The ESP32 is silicon revision ${t.revision}; only revisions ${SUPPORTED_REVISIONS.join(', ')} are supported for burning keys, so nothing was burned.`);
  }
}

function allSame(b: Uint8Array): boolean {
  return b.every((x) => x === b[0]);
}

/**
 * Key files must be raw keys of exactly the block length for the chip's coding scheme, must
 * not be trivially weak, and must be two different keys.
 */
export function checkKeys(flashKey: Uint8Array | undefined, secureBootKey: Uint8Array | undefined, keyLength: 24 | 32): void {
  const scheme = codingForKeyLength(keyLength) === '3/4' ? 'the 3/4 coding scheme of this chip (192-bit keys)' : 'coding scheme None (256-bit keys)';
  const check = (k: Uint8Array, what: string): void => {
    const content = k.length !== keyLength ? keyContentHint(k) : '';
    if (content) throw new UserError('E_KEY_LENGTH', `The ${what} file holds ${k.length} bytes: ${content}; nothing was burned.`);
    if (k.length === 64 && what.startsWith('secure')) {
      throw new UserError('E_KEY_IS_PUBLIC', `The secure boot key file holds 64 bytes: that is the public key (extract_public_key), not the secure boot key; give the signing key (--signing-key) so the key is derived from it, nothing was burned.`);
    }
    if (k.length !== keyLength) {
      throw new UserError('E_KEY_LENGTH', `The ${what} file holds ${k.length} bytes but ${scheme} needs ${keyLength}; nothing was burned.`);
    }
    if (allSame(k)) {
      throw new UserError('E_KEY_MALFORMED', `The ${what} file holds ${k.length} identical bytes (0x${k[0]!.toString(16).padStart(2, '0')}), which is not a real key; nothing was burned.`);
    }
  };
  if (flashKey) check(flashKey, 'flash-encryption key');
  if (secureBootKey) check(secureBootKey, 'secure boot key');
  if (flashKey && secureBootKey && Buffer.from(flashKey).equals(Buffer.from(secureBootKey))) {
    throw new UserError('E_SAME_KEY', 'The flash-encryption key and the secure boot key are the same bytes (the same file given twice?); they must be different keys, nothing was burned.');
  }
}
