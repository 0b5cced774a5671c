import * as fs from 'node:fs';
import { p256 } from '@noble/curves/nist.js';
import { UserError } from '../errors';
import type { EcPrivateKey } from '../crypto/signing-key';
import { readSigningKeyFile } from './key-files';
import { isPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri';
import { pkcs11PublicKey, pkcs11SignDigest, type Pkcs11Access } from './pkcs11';

/**
 * The signing seam: everything that signs (sign-data, the build, OTA images, host-side secure
 * processing) takes a Signer, so the private key may be a PEM file or stay in a PKCS#11 token.
 */
export interface Signer {
  /** The public point X‖Y, 64 bytes big-endian (the uncompressed point without its 0x04): what the bootloader embeds. */
  readonly publicKey: Uint8Array;
  /** 'pem' for a key file, 'pkcs11' for a token key. */
  readonly kind: 'pem' | 'pkcs11';
  /** The file path or the pkcs11: URI (never a PIN), for messages and records. */
  readonly source: string;
  /**
   * Signs a 32-byte SHA-256 digest; returns r‖s, 64 bytes big-endian, the order secure boot v1's
   * signature block holds after its version word. A PEM key signs deterministically (RFC 6979,
   * as espsecure does); a token with its own random k.
   */
  signDigest(digest: Uint8Array): Uint8Array;
}

/** A Signer over a parsed PEM key (signs with noble, RFC 6979, s not normalised, as espsecure). */
export function pemSigner(key: EcPrivateKey, source: string): Signer & { privateKey: EcPrivateKey } {
  return {
    publicKey: key.publicKey,
    kind: 'pem',
    source,
    privateKey: key,
    signDigest: (digest) => p256.sign(digest, key.d, { prehash: false, lowS: false }),
  };
}

/** A Signer over the token key `uri`; reads its public key now (no PIN needed for that). */
export function pkcs11Signer(uri: string, access: Pkcs11Access = {}): Signer {
  const publicKey = pkcs11PublicKey(uri, access);
  return { publicKey, kind: 'pkcs11', source: uri.trim(), signDigest: (digest) => pkcs11SignDigest(uri, digest, publicKey, access) };
}

/** File name ending of a key store file that holds a pkcs11: URI instead of a key. */
export const PKCS11_REF_SUFFIX = '.pkcs11';

/**
 * The pkcs11: URI a signing key reference stands for, or undefined when it is a key file: the
 * reference itself when it is a URI, else the first line of a file that starts with "pkcs11:"
 * (the key store keeps a token key as such a file; it holds no secret).
 */
export function tokenUriOf(ref: string): string | undefined {
  if (isPkcs11Uri(ref)) return ref.trim();
  let head: Buffer;
  try {
    const fd = fs.openSync(ref, 'r');
    try {
      head = Buffer.alloc(4096);
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const text = head.toString('utf8').trim();
  if (!isPkcs11Uri(text)) return undefined;
  const line = text.split(/\r?\n/)[0]!.trim();
  parsePkcs11Uri(line);
  return line;
}

/**
 * Opens the signing key `ref`: a pkcs11: URI, a file holding one, or a PEM key file (SEC1 or
 * PKCS#8). UserError from the PEM reader or the token (missing module, token, object; wrong curve).
 */
export function openSigner(ref: string, access: Pkcs11Access = {}): Signer {
  const uri = tokenUriOf(ref);
  if (uri !== undefined) return pkcs11Signer(uri, access);
  return pemSigner(readSigningKeyFile(ref), ref);
}

/** The public key X‖Y of the signing key `ref` (a token's is read without its PIN). */
export function signingPublicKey(ref: string, access: Pkcs11Access = {}): Uint8Array {
  const uri = tokenUriOf(ref);
  return uri !== undefined ? pkcs11PublicKey(uri, access) : readSigningKeyFile(ref).publicKey;
}

/**
 * The private key of a PEM reference, for what only a private key can give (Pycom's derived
 * secure boot key). UserError E_TOKEN_KEY naming `needFor` when `ref` is a token key.
 */
export function pemPrivateKey(ref: string, needFor: string): EcPrivateKey {
  if (tokenUriOf(ref) !== undefined) {
    throw new UserError('E_TOKEN_KEY', `The signing key ${ref} stays in a PKCS#11 token, so ${needFor} cannot be derived from it; make a random secure boot key with generate-secure-boot-key and use that.`);
  }
  return readSigningKeyFile(ref);
}
