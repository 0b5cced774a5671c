import { createHash } from 'node:crypto';
import { readEspImage } from './esp-image';

/**
 * The secure boot v1 verification key a 2nd-stage bootloader was built with: ESP-IDF v3.x links
 * `signature_verification_key.bin` (espsecure extract_public_key: the raw 64-byte public key,
 * X‖Y, big-endian 32+32 bytes) into the bootloader's data (bootloader_support component.mk,
 * COMPONENT_EMBED_FILES), and verifies the partition table's and the app's signatures with it
 * (ESP-IDF secure boot v1 docs, "Signed app verification"). The key is not
 * marked, so it is found as the one 64-byte window of segment data that is a point on NIST P-256
 * (y² = x³ − 3x + b mod p): random 64 bytes satisfy that with probability about 2^-256, so a hit
 * is the embedded key, found deterministically.
 */

// NIST P-256 (SEC 2 / FIPS 186-4 D.1.2.3): field prime and curve constant b (a = -3).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

const bigAt = (data: Uint8Array, at: number): bigint => BigInt(`0x${Buffer.from(data.buffer, data.byteOffset + at, 32).toString('hex')}`);

/** Whether the 64 bytes at `at` (X‖Y, big-endian) are the affine coordinates of a point on P-256. */
export function isP256Point(data: Uint8Array, at: number): boolean {
  if (at < 0 || at + 64 > data.length) return false;
  return onCurve(bigAt(data, at), bigAt(data, at + 32));
}

const onCurve = (x: bigint, y: bigint): boolean => x < P && y < P && (y * y - ((x * x - 3n) * x + B)) % P === 0n;

/**
 * Every 64-byte window of `data` that is a P-256 point (isP256Point), each once, in order of
 * first offset. About 0.1 s for a 30 KB bootloader (one modular check per offset).
 */
export function p256PointsIn(data: Uint8Array): Uint8Array[] {
  const found: Uint8Array[] = [];
  if (data.length < 64) return found;
  // Every 32-byte big-endian word, rolled one byte at a time (a shift and a mask per offset instead
  // of 32 byte reads): word[i] = data[i, i+32).
  const words: bigint[] = new Array<bigint>(data.length - 31);
  const MASK = (1n << 256n) - 1n;
  let w = bigAt(data, 0);
  words[0] = w;
  for (let i = 1; i + 32 <= data.length; i++) {
    w = ((w << 8n) & MASK) | BigInt(data[i + 31]!);
    words[i] = w;
  }
  for (let at = 0; at + 64 <= data.length; at++) {
    if (!onCurve(words[at]!, words[at + 32]!)) continue;
    const key = data.slice(at, at + 64);
    if (!found.some((k) => Buffer.from(k).equals(key))) found.push(key);
  }
  return found;
}

const cache = new Map<string, Uint8Array | undefined>();
const CACHE_MAX = 64;

/**
 * The verification key embedded in a (plaintext) bootloader image: the P-256 point in its segment
 * data (windows that straddle a segment header are not looked at: the linker keeps the key in
 * one section). Undefined when the image does not parse, holds no point, or holds two different
 * points (then which one the bootloader uses cannot be told from the bytes; a real IDF
 * bootloader holds exactly one). Results are cached by the image's SHA-256, so a virtual board
 * that boots often scans each bootloader once. `image` may run past the image's end (what
 * follows is ignored). Never throws.
 */
export function bootloaderVerificationKey(image: Uint8Array): Uint8Array | undefined {
  let img;
  try {
    img = readEspImage(image, 'The bootloader');
  } catch {
    return undefined;
  }
  const bytes = image.subarray(0, img.imageEnd);
  const id = createHash('sha256').update(bytes).digest('hex');
  if (cache.has(id)) {
    const hit = cache.get(id);
    return hit && hit.slice();
  }
  const keys: Uint8Array[] = [];
  for (const s of img.segments) {
    for (const k of p256PointsIn(bytes.subarray(s.fileOffset, s.fileOffset + s.length))) {
      if (!keys.some((h) => Buffer.from(h).equals(k))) keys.push(k);
    }
  }
  const key = keys.length === 1 ? keys[0] : undefined;
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(id, key);
  return key && key.slice();
}
