import { checksumOk, hashOk, readEspImage } from '../image/esp-image';
import { signatureBlockAt } from '../image/signature-block';
import { digestImageBootloader, hasDigestImageLayout } from '../image/file-kind';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { isUserError } from '../errors';

/**
 * What a plaintext blob is, judged by its bytes alone. Used to classify build outputs and, after
 * decrypting a file for its target address, to decide whether the key and the address were right.
 */
export type ContentKind = 'image' | 'digest-image' | 'partition-table' | 'unknown';

export interface ContentInfo {
  kind: ContentKind;
  /** For images and tables: a v1 signature block is where the bootloader reads it (padding may follow). */
  signed?: boolean;
  /** Why it is not valid, when it is `unknown`. */
  problem?: string;
}

function imageProblem(data: Uint8Array): { problem?: string; signed?: boolean } {
  try {
    const img = readEspImage(data);
    if (!checksumOk(img)) return { problem: 'its checksum does not match' };
    if (hashOk(img) === false) return { problem: 'its appended SHA-256 does not match' };
    return { signed: img.signature.present };
  } catch (e) {
    if (isUserError(e)) return { problem: e.message };
    throw e;
  }
}

/** What a plaintext blob is (see ContentKind); `problem` says why when it is `unknown`. */
export function classifyContent(data: Uint8Array): ContentInfo {
  if (data.length >= 2 && data[0] === 0xaa && data[1] === 0x50) {
    try {
      const t = parsePartitionTable(data.subarray(0, Math.min(data.length, TABLE_MAX_LEN)));
      return { kind: 'partition-table', signed: t.entries.length > 0 && signatureBlockAt(data, TABLE_MAX_LEN).present };
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
  if (hasDigestImageLayout(data)) {
    const r = imageProblem(digestImageBootloader(data));
    return r.problem ? { kind: 'unknown', problem: `the bootloader after the digest is not valid: ${r.problem}` } : { kind: 'digest-image' };
  }
  return { kind: 'unknown', problem: 'it is neither an ESP32 image, a secure boot digest image nor a partition table' };
}
