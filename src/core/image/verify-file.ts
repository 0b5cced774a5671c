import { UserError } from '../errors';
import { verifySignatureAt, verifySignedData } from '../crypto/signature';
import { hex } from '../util/hex';
import { identifyFile, type FileIdentity } from './file-kind';
import { SIGNATURE_BLOCK_LEN } from './signature-block';

export interface FileSignatureCheck {
  valid: boolean;
  identity: FileIdentity;
  /** Offset of the block that was checked. */
  at: number;
  /** What follows the block (padding the bootloader never reads), for a note; '' when nothing. */
  trailer: string;
}

/**
 * Checks the secure boot v1 signature of a file the way the bootloader would: an app's block
 * right after the image, a partition table's at 0xC00 (ESP-IDF secure_boot_signatures.c), whatever
 * follows ignored. A file of no known kind is read as espsecure reads it (block = last 68
 * bytes). Throws a one-sentence UserError naming what the file is when it carries no signature
 * the bootloader would check: a bootloader image or digest image (protected by the ROM's digest,
 * not signed), ciphertext (decrypt first), an app or table with no block where the bootloader
 * looks. `file` names the file in messages, e.g. "app.bin".
 */
export function verifyFileSignature(data: Uint8Array, publicKey: Uint8Array, file: string): FileSignatureCheck {
  const id = identifyFile(data);
  switch (id.kind) {
    case 'ciphertext': {
      // Any file may be signed as a whole (espsecure sign_data), random data included: a file that
      // ends with a block is read as espsecure reads it; only one that does not is named ciphertext.
      const end = data.length - SIGNATURE_BLOCK_LEN;
      const version = Buffer.from(data.subarray(end, end + 4)).readUInt32LE(0);
      if (version === 0) return { valid: verifySignatureAt(data, end, publicKey), identity: id, at: end, trailer: '' };
      throw new UserError('E_SIG_CIPHERTEXT', `${file} does not end with a signature block (the version word at ${hex(end, { lower: true })} is ${hex(version, { width: 8, lower: true })}, not 0) and looks like ciphertext (no image or table magic, random-looking bytes): if it is encrypted, decrypt it first with \`pycom-secure decrypt-flash-data --keyfile KEY --address ADDR --output PLAIN ${file}\` at the address it is flashed at and verify the plaintext, otherwise sign it with sign-data.`);
    }
    case 'digest-image':
      throw new UserError('E_SIG_DIGEST_IMAGE', `${file} is ${id.what}, which is not signed (the ROM checks it against the digest made with the secure boot key in BLOCK2), so there is no signature to verify: check it against a board with \`pycom-secure predict-boot\`, and verify the app and the partition table instead.`);
    case 'bootloader':
      if (!id.signature!.present) {
        throw new UserError('E_SIG_BOOTLOADER', `${file} is ${id.what}, which secure boot v1 does not sign (the ROM checks it through the digest at 0x0 instead), so there is no signature to verify: verify the app and the partition table instead.`);
      }
      break;
    case 'app':
    case 'partition-table': {
      const sig = id.signature!;
      if (sig.misplacedAt !== undefined) {
        throw new UserError('E_SIG_MISPLACED', `${file} is ${id.what} whose signature block is at ${hex(sig.misplacedAt, { lower: true })} instead of ${hex(sig.at, { lower: true })} where the bootloader reads it, because it was signed over ${sig.misplacedAt - sig.at} bytes after the ${id.kind === 'app' ? 'image' : '0xC00-byte table'}: sign the file without those bytes (the build's unpadded output) with sign-data.`);
      }
      if (!sig.present) {
        const there = sig.trailer.kind === 'none' ? 'the file ends there' : `there are ${sig.trailer.text}`;
        throw new UserError('E_SIG_ABSENT', `${file} is ${id.what} with no signature block at ${hex(sig.at, { lower: true })}, where the bootloader looks for it (${there}): sign it with sign-data.`);
      }
      break;
    }
    case 'unknown':
      return { valid: verifySignedData(data, publicKey, `The signed file ${file}`), identity: id, at: data.length - SIGNATURE_BLOCK_LEN, trailer: '' };
  }
  const sig = id.signature!;
  return { valid: verifySignatureAt(data, sig.at, publicKey), identity: id, at: sig.at, trailer: sig.trailer.kind === 'none' ? '' : sig.trailer.text };
}

/**
 * How an app image or partition table (plaintext, as the bootloader reads it) is signed with
 * respect to `publicKey` (64-byte X‖Y): 'valid', 'other-key' (a block that does not verify),
 * 'unsigned' (no block where the bootloader reads it), or undefined for anything that is neither
 * an app nor a table (its content is judged elsewhere). The secure boot v1 bootloader's check
 * (ESP-IDF v3 secure boot docs), used by the flash checks and ota-image.
 */
export function bootSignatureStatus(plain: Uint8Array, publicKey: Uint8Array): 'valid' | 'other-key' | 'unsigned' | undefined {
  const id = identifyFile(plain);
  if ((id.kind !== 'app' && id.kind !== 'partition-table') || !id.signature) return undefined;
  if (!id.signature.present) return 'unsigned';
  return verifySignatureAt(plain, id.signature.at, publicKey) ? 'valid' : 'other-key';
}
