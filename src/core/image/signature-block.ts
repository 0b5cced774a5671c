import { hex } from '../util/hex';

/**
 * Where a secure boot v1 signature block is, read the way the 2nd-stage bootloader reads it
 * (ESP-IDF bootloader_support secure_boot_signatures.c): for an app, right after the image (header,
 * segments, checksum
 * byte, plus the 32-byte SHA-256 when hash_appended), with no padding in between; for the
 * partition table, at +0xC00. Whatever follows the block is never read by the bootloader, so a
 * decrypted `_enc` file or a flash read-back (block, then encryption padding or 0xFF) still has
 * its block where the bootloader finds it.
 */

/** Secure boot v1 signature block: uint32 little-endian version (0) then r‖s (64 bytes). */
export const SIGNATURE_BLOCK_LEN = 68;

export interface SignatureBlockLocation {
  /** Offset where the bootloader reads the block: the end of the signed data. */
  at: number;
  /** A block with version word 0 and a signature that is not all 0x00 / all 0xFF is at `at`. */
  present: boolean;
  /** Bytes after the block when present, else after `at`. */
  trailer: Trailer;
  /**
   * When absent at `at` but the file ends with a block-shaped 68 bytes: where that block starts.
   * Such a file was signed over more than the image (e.g. padding), which the bootloader rejects.
   */
  misplacedAt?: number;
}

export interface Trailer {
  offset: number;
  length: number;
  /** 'padding': 0xFF, zero, or fill up to a 16-byte boundary (encryption pads there); 'data': anything else. */
  kind: 'none' | 'padding' | 'data';
  /** e.g. "12 bytes of padding (to a 16-byte boundary, as flash encryption pads)"; '' when none. */
  text: string;
}

const allAre = (d: Uint8Array, v: number): boolean => d.every((b) => b === v);

/** Whether the 68 bytes at `at` look like a signature block (version 0, non-trivial signature). */
function blockAt(data: Uint8Array, at: number): boolean {
  if (at < 0 || data.length < at + SIGNATURE_BLOCK_LEN) return false;
  if ((data[at]! | data[at + 1]! | data[at + 2]! | data[at + 3]!) !== 0) return false;
  const sig = data.subarray(at + 4, at + SIGNATURE_BLOCK_LEN);
  return !allAre(sig, 0) && !allAre(sig, 0xff);
}

const plural = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`;

/**
 * Says what the bytes of `data` from `offset` to the end are. Bytes up to the next 16-byte
 * boundary may hold any value (espsecure pads the last AES block with random bytes,
 * espsecure's encrypt_flash_data); after that only uniform 0xFF or 0x00 count as padding.
 */
export function describeTrailer(data: Uint8Array, offset: number): Trailer {
  const length = Math.max(0, data.length - offset);
  if (length === 0) return { offset, length, kind: 'none', text: '' };
  const rest = data.subarray(offset);
  if (allAre(rest, 0xff)) return { offset, length, kind: 'padding', text: `${plural(length)} of 0xFF padding` };
  if (allAre(rest, 0)) return { offset, length, kind: 'padding', text: `${plural(length)} of zero padding` };
  const fill = (16 - (offset % 16)) % 16;
  if (fill > 0 && length >= fill) {
    const after = rest.subarray(fill);
    const fillText = `${plural(fill)} up to a 16-byte boundary, as flash encryption pads`;
    if (after.length === 0) return { offset, length, kind: 'padding', text: `${plural(length)} of padding (${fillText})` };
    for (const [v, name] of [[0xff, '0xFF'], [0, 'zero']] as const) {
      if (allAre(after, v)) return { offset, length, kind: 'padding', text: `${plural(length)} of padding (${fillText}, then ${plural(after.length)} of ${name})` };
    }
  }
  return { offset, length, kind: 'data', text: `${plural(length)} of other data (not padding)` };
}

/** The signature block the bootloader would read at `at` in `data` (see the module comment). */
export function signatureBlockAt(data: Uint8Array, at: number): SignatureBlockLocation {
  if (blockAt(data, at)) return { at, present: true, trailer: describeTrailer(data, at + SIGNATURE_BLOCK_LEN) };
  const end = data.length - SIGNATURE_BLOCK_LEN;
  const loc: SignatureBlockLocation = { at, present: false, trailer: describeTrailer(data, at) };
  if (end > at && blockAt(data, end)) loc.misplacedAt = end;
  return loc;
}

/** One line for `image-info`: where the block is and what follows it. */
export function describeSignatureBlock(loc: SignatureBlockLocation): string {
  const where = `offset ${hex(loc.at, { lower: true })}`;
  if (loc.present) {
    const tail = loc.trailer.kind === 'none' ? '' : `, then ${loc.trailer.text}, which the bootloader does not read`;
    return `Secure boot v1 signature block: present at ${where} (68 bytes, version 0)${tail}; check it with verify-signature`;
  }
  if (loc.misplacedAt !== undefined) {
    return `Secure boot v1 signature block: NOT where the bootloader looks (${where}, right after the image): the file ends with a block at ${hex(loc.misplacedAt, { lower: true })}, so it was signed over ${plural(loc.misplacedAt - loc.at)} that are not part of the image and the bootloader would reject it`;
  }
  if (loc.trailer.kind === 'none') return 'Secure boot v1 signature block: absent';
  return `Secure boot v1 signature block: absent (at ${where}, where the bootloader looks for it, there are ${loc.trailer.text})`;
}
