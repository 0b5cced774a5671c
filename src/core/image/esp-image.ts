import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { hex } from '../util/hex';
import { keyMaterialInBytes } from '../keystore/key-material';
import { SIGNATURE_BLOCK_LEN, signatureBlockAt, type SignatureBlockLocation } from './signature-block';

export { SIGNATURE_BLOCK_LEN };

/**
 * Reader for the ESP32 application/bootloader image format (what esptool elf2image writes and
 * the ROM/bootloader loads): 8-byte common header, 16-byte extended header, segments, a checksum
 * byte at an offset ≡ 15 (mod 16), an optional SHA-256, and optionally a secure boot v1
 * signature block after that, found where the bootloader finds it (signature-block.ts).
 */

export const IMAGE_MAGIC = 0xe9;
export const HEADER_LEN = 24;
export const MAX_SEGMENTS = 16;
const CHECKSUM_SEED = 0xef;

export interface ImageSegment {
  index: number;
  loadAddress: number;
  length: number;
  /** Offset of the segment's data in the file. */
  fileOffset: number;
}

export interface EspImage {
  segmentCount: number;
  flashMode: number;
  /** Byte 3: high nibble flash size, low nibble flash frequency. */
  flashSizeFreq: number;
  entryPoint: number;
  chipId: number;
  minChipRev: number;
  /** Byte 23: 1 when a SHA-256 of the image follows the checksum. */
  hashAppended: boolean;
  segments: ImageSegment[];
  checksumOffset: number;
  storedChecksum: number;
  computedChecksum: number;
  /** Present only when hashAppended. */
  storedHash?: Uint8Array;
  computedHash?: Uint8Array;
  /** First byte after the checksum and the appended hash. */
  imageEnd: number;
  /** Bytes after imageEnd. */
  trailingBytes: number;
  /** A signature block is at imageEnd, where the bootloader reads it (padding may follow it). */
  signatureBlockPresent: boolean;
  /** The signature block as the bootloader finds it, and what follows. */
  signature: SignatureBlockLocation;
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/**
 * `what` names the file in messages, e.g. "The bootloader image bootloader.bin". Throws a one-sentence
 * UserError for anything that is not a readable image; key material (keyMaterialInBytes) is
 * named as such (E_KEY_AS_DATA) and none of its bytes is quoted.
 */
export function readEspImage(data: Uint8Array, what = 'The image'): EspImage {
  if (data.length < HEADER_LEN) {
    throw new UserError('E_IMAGE_TRUNCATED', `${what} is only ${data.length} bytes, shorter than the 24-byte ESP32 image header; check that the file is complete.`);
  }
  // Key material quoted as header bytes would leak it: a key (or a tiny file the size of one) is
  // named as such before any byte is read as a header field.
  const keyWhy = data[0] !== IMAGE_MAGIC || data.length < 512 ? keyMaterialInBytes(data) : undefined;
  if (keyWhy) {
    throw new UserError('E_KEY_AS_DATA', `${what} holds key material (${keyWhy}), not an ESP32 firmware image; pass the .bin written by the build, and a key only to an option that asks for one.`);
  }
  if (data[0] !== IMAGE_MAGIC) {
    throw new UserError('E_IMAGE_MAGIC', `${what} is not an ESP32 firmware image: it starts with ${hex(data[0]!, { width: 2, lower: true })} instead of the magic byte 0xe9; pass the .bin written by the build (not an .elf or an encrypted file).`);
  }
  const segmentCount = data[1]!;
  if (segmentCount > MAX_SEGMENTS) {
    throw new UserError('E_IMAGE_SEGMENTS', `${what} declares ${segmentCount} segments, more than the ${MAX_SEGMENTS} an ESP32 image can have; the file is corrupt or not an image.`);
  }
  const hashByte = data[23]!;
  if (hashByte > 1) {
    throw new UserError('E_IMAGE_HEADER', `${what} has ${hex(hashByte, { width: 2, lower: true })} in its hash_appended header byte (offset 23), which must be 0 or 1; the file is corrupt or not an image.`);
  }
  const segments: ImageSegment[] = [];
  let pos = HEADER_LEN;
  let checksum = CHECKSUM_SEED;
  for (let i = 0; i < segmentCount; i++) {
    if (pos + 8 > data.length) {
      throw new UserError('E_IMAGE_TRUNCATED', `${what} is truncated: it ends inside the header of segment ${i}; check that the file is complete.`);
    }
    const loadAddress = u32(data, pos);
    const length = u32(data, pos + 4);
    if (pos + 8 + length > data.length) {
      throw new UserError('E_IMAGE_TRUNCATED', `${what} is truncated: segment ${i} needs ${length} bytes but the file ends ${data.length - pos - 8} bytes after its header; check that the file is complete.`);
    }
    segments.push({ index: i, loadAddress, length, fileOffset: pos + 8 });
    for (let k = pos + 8, end = pos + 8 + length; k < end; k++) checksum ^= data[k]!;
    pos += 8 + length;
  }
  const checksumOffset = pos + ((15 - (pos % 16)) % 16);
  if (checksumOffset >= data.length) {
    throw new UserError('E_IMAGE_TRUNCATED', `${what} is truncated: it ends before its checksum byte at offset ${hex(checksumOffset, { lower: true })}; check that the file is complete.`);
  }
  let imageEnd = checksumOffset + 1;
  const image: EspImage = {
    segmentCount,
    flashMode: data[2]!,
    flashSizeFreq: data[3]!,
    entryPoint: u32(data, 4),
    chipId: data[12]! | (data[13]! << 8),
    minChipRev: data[14]!,
    hashAppended: hashByte === 1,
    segments,
    checksumOffset,
    storedChecksum: data[checksumOffset]!,
    computedChecksum: checksum,
    imageEnd,
    trailingBytes: 0,
    signatureBlockPresent: false,
    signature: { at: imageEnd, present: false, trailer: { offset: imageEnd, length: 0, kind: 'none', text: '' } },
  };
  if (image.hashAppended) {
    if (imageEnd + 32 > data.length) {
      throw new UserError('E_IMAGE_TRUNCATED', `${what} is truncated: its header says a 32-byte SHA-256 follows the checksum, but only ${data.length - imageEnd} bytes do; check that the file is complete.`);
    }
    image.storedHash = data.slice(imageEnd, imageEnd + 32);
    image.computedHash = new Uint8Array(createHash('sha256').update(data.subarray(0, imageEnd)).digest());
    imageEnd += 32;
  }
  image.imageEnd = imageEnd;
  image.trailingBytes = data.length - imageEnd;
  image.signature = signatureBlockAt(data, imageEnd);
  image.signatureBlockPresent = image.signature.present;
  return image;
}

/** Whether the stored checksum byte matches the segments' data. */
export function checksumOk(img: EspImage): boolean {
  return img.storedChecksum === img.computedChecksum;
}

/** Whether the appended SHA-256 matches; undefined when the image has none. */
export function hashOk(img: EspImage): boolean | undefined {
  if (!img.storedHash || !img.computedHash) return undefined;
  return Buffer.from(img.storedHash).equals(Buffer.from(img.computedHash));
}
