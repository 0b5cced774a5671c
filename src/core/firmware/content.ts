import { checksumOk, hashOk, readEspImage, SIGNATURE_BLOCK_LEN } from '../image/esp-image';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { isUserError } from '../errors';

/**
 * What a plaintext blob is, judged by its bytes alone. Used to classify build outputs and, after
 * decrypting a file for its target address, to decide whether the key and the address were right.
 */
export type ContentKind = 'image' | 'digest-image' | 'partition-table' | 'unknown';

export interface ContentInfo {
  kind: ContentKind;
  /** For images and tables: a v1 signature block (version 0) follows the signed data. */
  signed?: boolean;
  /** Why it is not valid, when it is `unknown`. */
  problem?: string;
}

/** Whether `data[end..]` is a 68-byte v1 signature block followed only by 0xFF padding. */
function signatureAt(data: Uint8Array, end: number): boolean {
  if (data.length < end + SIGNATURE_BLOCK_LEN) return false;
  if ((data[end]! | data[end + 1]! | data[end + 2]! | data[end + 3]!) !== 0) return false;
  for (let i = end + SIGNATURE_BLOCK_LEN; i < data.length; i++) if (data[i] !== 0xff) return false;
  return true;
}

function imageProblem(data: Uint8Array): { problem?: string; signed?: boolean } {
  try {
    const img = readEspImage(data);
    if (!checksumOk(img)) return { problem: 'its checksum does not match' };
    if (hashOk(img) === false) return { problem: 'its appended SHA-256 does not match' };
    return { signed: signatureAt(data, img.imageEnd) };
  } catch (e) {
    if (isUserError(e)) return { problem: e.message };
    throw e;
  }
}

export function classifyContent(data: Uint8Array): ContentInfo {
  if (data.length >= 2 && data[0] === 0xaa && data[1] === 0x50) {
    try {
      const t = parsePartitionTable(data.subarray(0, Math.min(data.length, TABLE_MAX_LEN)));
      return { kind: 'partition-table', signed: t.entries.length > 0 && signatureAt(data, TABLE_MAX_LEN) };
    } catch (e) {
      if (isUserError(e)) return { kind: 'unknown', problem: e.message };
      throw e;
    }
  }
  if (data[0] === 0xe9) {
    const r = imageProblem(data);
    return r.problem ? { kind: 'unknown', problem: r.problem } : { kind: 'image', signed: r.signed! };
  }
  // IV (128 random bytes) + digest + 0xFF up to 0x1000, then the bootloader image.
  if (data.length > 0x1000 && data[0x1000] === 0xe9 && data.subarray(0xc0, 0x1000).every((b) => b === 0xff)) {
    const r = imageProblem(trimPadding(data.subarray(0x1000)));
    return r.problem ? { kind: 'unknown', problem: `the bootloader after the digest is not valid: ${r.problem}` } : { kind: 'digest-image' };
  }
  return { kind: 'unknown', problem: 'it is neither an ESP32 image, a secure boot digest image nor a partition table' };
}

/**
 * The digest image may have cut the bootloader's appended SHA-256 short (espsecure drops it when it
 * spills into a last 128-byte block); the ROM never checks that hash, so parse without it.
 */
function trimPadding(d: Uint8Array): Uint8Array {
  const copy = new Uint8Array(d);
  if (copy.length > 23) copy[23] = 0;
  return copy;
}
