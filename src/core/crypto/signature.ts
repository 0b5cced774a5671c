import { createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { UserError } from '../errors';
import type { EcPrivateKey } from './signing-key';
import type { Signer } from '../keys/signer';
import { SIGNATURE_BLOCK_LEN } from '../image/signature-block';

export { SIGNATURE_BLOCK_LEN };

/**
 * Secure boot v1 image signatures: ECDSA P-256 over SHA-256 of the whole file, appended as a
 * 68-byte block (uint32 version 0, then r‖s big-endian). Signing is RFC 6979 deterministic and
 * s is NOT normalised to low-s, which is what espsecure does; verification must accept high-s
 * too, or half of all valid espsecure signatures would be refused.
 */

// We hash with node:crypto (native, ~20x faster than a JS SHA-256 on multi-MiB apps) and hand
// noble the digest; RFC 6979 derives k from that same digest, so the bytes are unchanged.
const OPTS = { prehash: false, lowS: false } as const;

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(data).digest());

/** A key that can sign: a parsed PEM key, or a Signer (PEM or PKCS#11 token). */
export type SigningKey = EcPrivateKey | Signer;

/** The 68-byte block to append to `data`. */
export function signatureBlock(data: Uint8Array, key: SigningKey): Uint8Array {
  const digest = sha256(data);
  const sig = 'signDigest' in key ? key.signDigest(digest) : p256.sign(digest, key.d, OPTS);
  if (!verifyDigest(digest, sig, key.publicKey)) {
    // Never expected; refusing beats writing an image the bootloader would reject.
    throw new Error('the new signature did not verify against its own public key');
  }
  const block = new Uint8Array(SIGNATURE_BLOCK_LEN);
  block.set(sig, 4);
  return block;
}

/** `data` followed by its signature block. */
export function signData(data: Uint8Array, key: SigningKey): Uint8Array {
  const out = new Uint8Array(data.length + SIGNATURE_BLOCK_LEN);
  out.set(data);
  out.set(signatureBlock(data, key), data.length);
  return out;
}

function verifyDigest(digest: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean {
  const pub = new Uint8Array(65);
  pub[0] = 4;
  pub.set(publicKey, 1);
  try {
    return p256.verify(sig, digest, pub, OPTS);
  } catch {
    return false;
  }
}

/**
 * Checks the signature block at `at` (version word, then r‖s) over `data[0, at)` against a 64-byte
 * X‖Y public key, as the bootloader does once it has located the block. False when the block's
 * version is not 0, it does not fit, or the signature does not verify.
 */
export function verifySignatureAt(data: Uint8Array, at: number, publicKey: Uint8Array): boolean {
  if (at < 0 || data.length < at + SIGNATURE_BLOCK_LEN) return false;
  if ((data[at]! | data[at + 1]! | data[at + 2]! | data[at + 3]!) !== 0) return false;
  return verifyDigest(sha256(data.subarray(0, at)), data.subarray(at + 4, at + SIGNATURE_BLOCK_LEN), publicKey);
}

/**
 * Checks a file whose last 68 bytes are its signature block (espsecure verify_signature's reading;
 * for images and partition tables use `verifyFileSignature`, which reads them as the bootloader does)
 * against a 64-byte X‖Y public key. Returns false for a wrong signature;
 * throws when the file cannot be a signed image at all.
 */
export function verifySignedData(signed: Uint8Array, publicKey: Uint8Array, file = 'The signed file'): boolean {
  if (signed.length < SIGNATURE_BLOCK_LEN) {
    throw new UserError('E_SIG_SHORT', `${file} is only ${signed.length} bytes, too short to end with a 68-byte signature block; sign it first with sign-data.`);
  }
  const at = signed.length - SIGNATURE_BLOCK_LEN;
  const version = (signed[at]! | (signed[at + 1]! << 8) | (signed[at + 2]! << 16) | (signed[at + 3]! << 24)) >>> 0;
  if (version !== 0) {
    throw new UserError('E_SIG_VERSION', `${file} ends with a signature block of version ${version}, but secure boot v1 only has version 0; the file is not signed with sign-data --version 1, or it was modified.`);
  }
  return verifySignatureAt(signed, at, publicKey);
}
