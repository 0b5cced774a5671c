import { isUserError } from '../errors';
import { BOOTLOADER_ADDRESS, DIGEST_ADDRESS, FLASH_MAPPED_WINDOWS, PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { parsePartitionTable, TABLE_MAX_LEN, type PartitionTable } from '../partition/table';
import { hex } from '../util/hex';
import { IMAGE_MAGIC, readEspImage, type EspImage } from './esp-image';
import { signatureBlockAt, type SignatureBlockLocation } from './signature-block';

/**
 * What a file is, judged by its bytes alone, so `image-info` and `verify-signature` can say it
 * when it is not a signed app: an app image, a second-stage bootloader, the reflashable secure
 * boot digest image (0x0), a partition table, or ciphertext (an encrypted `_enc` file or an
 * encrypted flash read-back).
 */
export type FileKind = 'app' | 'bootloader' | 'digest-image' | 'partition-table' | 'ciphertext' | 'unknown';

export interface FileIdentity {
  kind: FileKind;
  /** A phrase naming the kind for messages, e.g. "a bootloader image (flashed at 0x1000)". */
  what: string;
  /** The image (app, bootloader) or, for a digest image, the bootloader after the digest sector. */
  image?: EspImage;
  /** For apps, bootloaders and partition tables: the signature block where the bootloader reads it. */
  signature?: SignatureBlockLocation;
  table?: PartitionTable;
  /** For ciphertext: Shannon entropy of the bytes, bits per byte. */
  entropy?: number;
}

/** Offset of the bootloader inside the digest image (IV, digest, 0xFF up to 0x1000). */
export const DIGEST_IMAGE_BOOTLOADER_OFFSET = BOOTLOADER_ADDRESS - DIGEST_ADDRESS;

/** Whether `data` has the digest image's layout: 0xFF from 0xC0 to 0x1000, then an image magic byte. */
export function hasDigestImageLayout(data: Uint8Array): boolean {
  const o = DIGEST_IMAGE_BOOTLOADER_OFFSET;
  return data.length > o && data[o] === IMAGE_MAGIC && data.subarray(0xc0, o).every((b) => b === 0xff);
}

/**
 * The bootloader inside a digest image. espsecure may have cut the bootloader's appended
 * SHA-256 short (it drops it when it spills into a last 128-byte block); the ROM never checks
 * that hash, so the image is read without it.
 */
export function digestImageBootloader(data: Uint8Array): Uint8Array {
  const copy = new Uint8Array(data.subarray(DIGEST_IMAGE_BOOTLOADER_OFFSET));
  if (copy.length > 23) copy[23] = 0;
  return copy;
}

/** Whether an image maps any segment through the flash cache (an app), see FLASH_MAPPED_WINDOWS. */
export function mapsFlash(img: EspImage): boolean {
  return img.segments.some((s) => FLASH_MAPPED_WINDOWS.some(([a, b]) => s.loadAddress >= a && s.loadAddress < b));
}

/** Shannon entropy of the first 64 KiB, bits per byte. */
export function entropy(data: Uint8Array): number {
  const d = data.subarray(0, 0x10000);
  const counts = new Array<number>(256).fill(0);
  for (const b of d) counts[b]!++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / d.length) * Math.log2(c / d.length);
  return h;
}

/**
 * Whether bytes with no known magic look like AES output: at least 256 bytes whose entropy is
 * within 0.3 bit of what uniformly random bytes of that length give (8 minus the small-sample
 * bias 255 / (2·n·ln 2)). Plaintext firmware, tables and padding stay far below.
 */
function looksEncrypted(data: Uint8Array): number | undefined {
  if (data.length < 256) return undefined;
  const n = Math.min(data.length, 0x10000);
  const h = entropy(data);
  return h >= 8 - 255 / (2 * n * Math.LN2) - 0.3 ? h : undefined;
}

/** Reads an image, or undefined when it cannot be read (the caller says what the file is instead). */
function tryImage(data: Uint8Array): EspImage | undefined {
  try {
    return readEspImage(data);
  } catch (e) {
    if (isUserError(e)) return undefined;
    throw e;
  }
}

/** What `data` is (see FileKind). Never throws for bad input; 'unknown' when nothing fits. */
export function identifyFile(data: Uint8Array): FileIdentity {
  if (data[0] === IMAGE_MAGIC) {
    const image = tryImage(data);
    if (image) {
      return mapsFlash(image)
        ? { kind: 'app', what: 'an app image', image, signature: image.signature }
        : { kind: 'bootloader', what: `a bootloader image (flashed at ${hex(BOOTLOADER_ADDRESS)})`, image, signature: image.signature };
    }
    return { kind: 'unknown', what: 'an ESP32 image that cannot be read' };
  }
  if (data.length >= 2 && data[0] === 0xaa && data[1] === 0x50) {
    try {
      const table = parsePartitionTable(data.subarray(0, Math.min(data.length, TABLE_MAX_LEN)));
      return { kind: 'partition-table', what: `a partition table (flashed at ${hex(PARTITION_TABLE_ADDRESS)})`, table, signature: signatureBlockAt(data, TABLE_MAX_LEN) };
    } catch (e) {
      if (!isUserError(e)) throw e;
      return { kind: 'unknown', what: 'a partition table that cannot be read' };
    }
  }
  if (hasDigestImageLayout(data)) {
    const image = tryImage(digestImageBootloader(data));
    return { kind: 'digest-image', what: `a secure boot digest image (IV, digest and bootloader: the reflashable image flashed at ${hex(DIGEST_ADDRESS)})`, ...(image ? { image } : {}) };
  }
  const h = looksEncrypted(data);
  if (h !== undefined) return { kind: 'ciphertext', what: 'ciphertext (no image or table magic, random-looking bytes)', entropy: h };
  return { kind: 'unknown', what: 'neither an ESP32 image, a digest image, a partition table nor ciphertext' };
}
