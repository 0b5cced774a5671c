import { UserError } from '../../errors';
import { CodingScheme } from '../fields';
import type { DecodedEfuses, KeyBlockState } from '../decode';

/*
 * Which eFuse coding schemes this tool secures a board under: None (CODING_SCHEME 0) only.
 *
 * The conservative choice, because 3/4 support in Pycom builds is UNCONFIRMED and, as far as the
 * sources show, absent: Pycom's sdkconfig sets CONFIG_SECURE_BOOTLOADER_KEY_ENCODING_256BIT and
 * its makefile derives a 256-bit secure boot key (spec pycom.md 1.8; whether any Pycom module ships
 * with 3/4 coding is an open question there), and every build path of this tool (`build`, the
 * secure-build tools) makes 256-bit keys. A board whose key blocks hold 192-bit keys with flash
 * encryption and secure boot on would then refuse every later build, for good.
 *
 * CODING_SCHEME 3 is shown as None by espefuse, but ESP-IDF's bootloader refuses it when it sets
 * up flash encryption ("Unknown/unsupported CODING_SCHEME value 0x3", esp32-boot-security.md 4.2)
 * and how the ROM treats it is UNCONFIRMED: refused as well. Repeat (2) and a read-protected
 * CODING_SCHEME (RD_DIS bit 3) cannot be burned by the engine at all (engineCodingScheme).
 *
 * The burn engine itself (planBurnKeys, executeBurnKeys) still burns 3/4-coded blocks, as espefuse
 * does; Burn Keys (workflows/burn-keys.ts), the one workflow of the CLI, the editor and provision,
 * refuses before any key is made or anything is burned (refuseUnsupportedCodingScheme), and the
 * flash checks and the boot prediction name the coding scheme on a board burned under it
 * (codingSchemeCause).
 */

/**
 * What is wrong with a CODING_SCHEME value for this tool, as a clause ("this board uses the 3/4
 * eFuse coding scheme ..."), or undefined for None (0). `undefined` (read-protected) and 2
 * (Repeat) give undefined too: the engine refuses those with their own codes (engineCodingScheme).
 */
export function unsupportedCodingScheme(codingScheme: number | undefined): { code: 'E_CODING_34' | 'E_CODING_RESERVED'; what: string } | undefined {
  if (codingScheme === CodingScheme.THREE_FOUR) {
    return { code: 'E_CODING_34', what: 'this board uses the 3/4 eFuse coding scheme (CODING_SCHEME 1): its key blocks hold 192-bit keys, but Pycom firmware and this tool\'s builds use 256-bit keys' };
  }
  if (codingScheme === CodingScheme.NONE_RECOVERY) {
    return { code: 'E_CODING_RESERVED', what: 'this board\'s CODING_SCHEME is 3, a value ESP-IDF\'s bootloader refuses ("Unknown/unsupported CODING_SCHEME value 0x3") and Pycom firmware and this tool\'s builds are not made for' };
  }
  return undefined;
}

/**
 * The coding schemes the burn engine burns keys under: throws E_CODING_HIDDEN (CODING_SCHEME
 * read-protected: the key length cannot be known) or E_CODING_REPEAT (Repeat, 2); returns whether
 * the blocks are 3/4-coded. Used by planBurnKeys and, before any key is made, by Burn Keys.
 */
export function engineCodingScheme(codingScheme: number | undefined): { threeFour: boolean } {
  if (codingScheme === undefined) throw new UserError('E_CODING_HIDDEN', 'CODING_SCHEME is read-protected on this chip, so the key length cannot be known; nothing was burned.');
  if (codingScheme === CodingScheme.REPEAT) throw new UserError('E_CODING_REPEAT', 'This chip uses the Repeat coding scheme, which no tool supports for keys; nothing was burned.');
  return { threeFour: codingScheme === CodingScheme.THREE_FOUR };
}

function blockText(name: string, b: KeyBlockState): string {
  if (b.status === 'empty') return `${name} empty`;
  if (b.status === 'protected') return `${name} read-protected`;
  return `${name} holding a key${b.writeable ? '' : ', write-protected'}`;
}

/** Whether an earlier run (or another tool) has burned anything Burn Keys burns. */
function burnedAnything(dec: DecodedEfuses): boolean {
  return dec.keyBlocks[1].status !== 'empty' || dec.keyBlocks[2].status !== 'empty' || dec.flashCryptCnt !== 0 || dec.secureBootV1;
}

/**
 * Burn Keys' plan-time refusal, before any key is generated or stored and before anything is
 * burned: throws E_CODING_HIDDEN / E_CODING_REPEAT (engineCodingScheme), E_CODING_34 (3/4) or
 * E_CODING_RESERVED (3), one sentence; on a board an earlier run (an older version of this tool,
 * or espefuse) already burned something on, the sentence also says what state it is in, so a
 * resumed Burn Keys never makes it worse. Returns nothing for None.
 */
export function refuseUnsupportedCodingScheme(dec: DecodedEfuses): void {
  engineCodingScheme(dec.codingScheme);
  const bad = unsupportedCodingScheme(dec.codingScheme);
  if (!bad) return;
  const what = bad.what.charAt(0).toUpperCase() + bad.what.slice(1);
  if (!burnedAnything(dec)) {
    throw new UserError(bad.code, `${what}, so a board secured with this tool would refuse every build from then on; do not secure this board with this tool; nothing was burned.`);
  }
  const state = [
    blockText('BLOCK1 (flash-encryption key)', dec.keyBlocks[1]),
    blockText('BLOCK2 (secure boot key)', dec.keyBlocks[2]),
    `flash encryption ${dec.flashEncryptionEnabled ? 'on' : 'off'}`,
    `secure boot ${dec.secureBootV1 ? 'on' : 'off'}`,
  ].join(', ');
  throw new UserError(bad.code, `${what}, so Burn Keys does not continue what an earlier run burned here (the board is left as it is: ${state}); do not secure this board further with this tool; nothing was burned.`);
}

/**
 * Why a build of this tool cannot boot on a board whose keys were burned under the 3/4 coding
 * scheme, as a clause for the flash checks, verify-flash and predict-boot, so they name the coding
 * scheme rather than the signing key or the flash key; undefined for any other coding scheme (the
 * value 3 keeps 256-bit keys: a mismatch there has the causes the checks test) or when no key
 * block holds a key yet (`keysBurned` false: nothing is burned under it yet).
 */
export function codingSchemeCause(codingScheme: number | undefined, keysBurned: boolean): string | undefined {
  if (codingScheme !== CodingScheme.THREE_FOUR || !keysBurned) return undefined;
  return 'this board uses the 3/4 eFuse coding scheme (CODING_SCHEME 1) and already has 192-bit keys burned, but Pycom firmware and this tool\'s builds use 256-bit keys, so no build of this tool can boot here (its bootloader digest is made for a 256-bit secure boot key, not the 192-bit one in BLOCK2: not a wrong signing key) and no flash can change that';
}
