import { p256 } from '@noble/curves/nist.js';
import { UserError } from '../errors';
import { DerError, type DerNode, TAG, children, concat, decodeOid, encodeTlv, expectTag, readOne } from './der';
import { ALGORITHM_NAMES, CURVE_NAMES, FOREIGN_PEM_LABELS, OID_EC_PUBLIC_KEY, OID_P256 } from './key-oids';
import { type PemBlock, encodePem, parsePem, pemLeftovers } from './pem';

/**
 * Secure boot v1 signing keys: ECDSA on NIST P-256. Reads the forms espsecure reads (SEC1, SEC1
 * after an EC PARAMETERS block, PKCS#8; SPKI and raw X‖Y for verification) and writes SEC1
 * exactly as espsecure does. Errors name the file but never contain key bytes.
 */

export interface EcPrivateKey {
  /** Private scalar, 32 bytes big-endian. */
  d: Uint8Array;
  /** Public point X‖Y, 64 bytes big-endian (no 0x04 prefix): what the bootloader embeds. */
  publicKey: Uint8Array;
}

// A command multiplies by the base point a handful of times (the public key of a signing key, a
// signature or two), so the table behind those multiplications is built in every process. noble's
// default 8-bit window builds a table of 128 x 33 points first (about 60 ms here), more than it
// saves over a few multiplications; a 4-bit window (8 x 65 points) is built in a few ms, and each
// multiplication stays on noble's constant-time path (measured: first getPublicKey 55 -> 30 ms).
p256.Point.BASE.precompute(4);

const NEED = 'ESP32 secure boot v1 needs an ECDSA NIST P-256 (prime256v1) key, such as generate-signing-key writes';

function bad(file: string, why: string): UserError {
  return new UserError('E_KEY_FORMAT', `The key file ${file} cannot be used: ${why}.`);
}

function curveCheck(file: string, curveOid: string | undefined): void {
  if (curveOid === undefined) throw bad(file, `it does not name its curve; ${NEED}`);
  if (curveOid === OID_P256) return;
  const name = CURVE_NAMES[curveOid] ?? `with OID ${curveOid}`;
  throw bad(file, `the key is on curve ${name}; ESP32 secure boot v1 needs NIST P-256 (prime256v1)`);
}

function curveFromParams(file: string, params: DerNode | undefined): string | undefined {
  if (!params) return undefined;
  if (params.tag === TAG.SEQUENCE) throw bad(file, 'it spells out explicit curve parameters; re-export it with a named curve (openssl ec -param_enc named_curve)');
  if (params.tag === TAG.NULL) return undefined;
  return decodeOid(params);
}

/** Returns 0x04‖X‖Y for a valid P-256 point given as 64 or 65 (uncompressed) or 33 bytes. */
function pointBytes(file: string, bytes: Uint8Array): Uint8Array {
  try {
    const input = bytes.length === 64 ? concat(Uint8Array.of(4), bytes) : bytes;
    return p256.Point.fromBytes(input).toBytes(false);
  } catch {
    throw bad(file, 'its public key is not a point on NIST P-256; the file is damaged or not a secure boot key');
  }
}

function fromScalar(file: string, dRaw: Uint8Array, embeddedPublic?: Uint8Array): EcPrivateKey {
  if (dRaw.length > 32) throw bad(file, 'its private key is longer than 32 bytes, so it is not a P-256 key');
  const d = new Uint8Array(32);
  d.set(dRaw, 32 - dRaw.length);
  if (!p256.utils.isValidSecretKey(d)) throw bad(file, 'its private key is out of range for P-256; the file is damaged');
  const pub = p256.getPublicKey(d, false);
  if (embeddedPublic && !Buffer.from(pointBytes(file, embeddedPublic)).equals(Buffer.from(pub))) {
    throw bad(file, 'its public key does not belong to its private key; the file is damaged, restore it from your backup');
  }
  return { d, publicKey: pub.slice(1) };
}

/** RFC 5915 ECPrivateKey; `curveHint` comes from PKCS#8 or a preceding EC PARAMETERS block. */
function parseSec1(file: string, der: Uint8Array, curveHint: string | undefined): EcPrivateKey {
  const items = children(readOne(der, TAG.SEQUENCE));
  expectTag(items[0], TAG.INTEGER, 'version');
  const d = expectTag(items[1], TAG.OCTET_STRING, 'private key').value;
  let curve = curveHint;
  let pub: Uint8Array | undefined;
  for (const item of items.slice(2)) {
    if (item.tag === TAG.CTX0) curve = curveFromParams(file, children(item)[0]) ?? curve;
    if (item.tag === TAG.CTX1) {
      const bits = expectTag(children(item)[0], TAG.BIT_STRING, 'public key').value;
      pub = bits.subarray(1);
    }
  }
  curveCheck(file, curve);
  return fromScalar(file, d, pub);
}

/** PKCS#8 PrivateKeyInfo wrapping an ECPrivateKey. */
function parsePkcs8(file: string, der: Uint8Array): EcPrivateKey {
  const items = children(readOne(der, TAG.SEQUENCE));
  const alg = children(expectTag(items[1], TAG.SEQUENCE, 'algorithm'));
  const algOid = decodeOid(expectTag(alg[0], TAG.OID, 'algorithm OID'));
  if (algOid !== OID_EC_PUBLIC_KEY) throw bad(file, `the key is ${ALGORITHM_NAMES[algOid] ?? `of algorithm ${algOid}`}; ${NEED}`);
  const curve = curveFromParams(file, alg[1]);
  return parseSec1(file, expectTag(items[2], TAG.OCTET_STRING, 'private key').value, curve);
}

/** SubjectPublicKeyInfo → X‖Y. */
function parseSpki(file: string, der: Uint8Array): Uint8Array {
  const items = children(readOne(der, TAG.SEQUENCE));
  const alg = children(expectTag(items[0], TAG.SEQUENCE, 'algorithm'));
  const algOid = decodeOid(expectTag(alg[0], TAG.OID, 'algorithm OID'));
  if (algOid !== OID_EC_PUBLIC_KEY) throw bad(file, `the key is ${ALGORITHM_NAMES[algOid] ?? `of algorithm ${algOid}`}; ${NEED}`);
  curveCheck(file, curveFromParams(file, alg[1]));
  const bits = expectTag(items[1], TAG.BIT_STRING, 'public key').value;
  return pointBytes(file, bits.subarray(1)).slice(1);
}

/** Labels of blocks that hold a key (a file with two of them is ambiguous: which one is meant?). */
const KEY_LABELS = new Set(['EC PRIVATE KEY', 'PRIVATE KEY', 'PUBLIC KEY', 'ENCRYPTED PRIVATE KEY']);

function blocksOf(file: string, bytes: Uint8Array): PemBlock[] {
  const text = Buffer.from(bytes).toString('latin1');
  const blocks = parsePem(text);
  if (blocks.length === 0) {
    throw bad(file, 'it is not a PEM key file (no "-----BEGIN ...-----" block was found); pass the .pem written by generate-signing-key or openssl');
  }
  const left = pemLeftovers(text);
  if (left.malformedBlocks > 0) {
    throw bad(file, `${left.malformedBlocks} of its "-----BEGIN" blocks ${left.malformedBlocks === 1 ? 'is' : 'are'} damaged (no matching END line, or text that is not base64); restore the key file from your backup`);
  }
  if (left.trailing) {
    throw bad(file, `it has ${left.trailing.length} character(s) of other text after its last "-----END" line; a key file holds its key and nothing after it: restore it from your backup, or remove what was appended if you know it is not part of the key`);
  }
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (keys.length > 1) {
    throw bad(file, `it holds ${keys.length} key blocks (${keys.map((b) => `"${b.label}"`).join(', ')}), so which key is meant is not clear; keep one key per file`);
  }
  for (const b of blocks) {
    if (b.label === 'ENCRYPTED PRIVATE KEY' || b.headers.some((h) => /ENCRYPTED/i.test(h))) {
      throw bad(file, 'the key is encrypted with a passphrase; decrypt it first (openssl ec -in KEY.pem -out PLAIN.pem) and keep the plain file private');
    }
    const foreign = FOREIGN_PEM_LABELS[b.label];
    if (foreign) throw bad(file, `${foreign}; ${NEED}`);
  }
  return blocks;
}

function ecParamsCurve(file: string, blocks: PemBlock[]): string | undefined {
  const params = blocks.find((b) => b.label === 'EC PARAMETERS');
  return params ? curveFromParams(file, readOne(params.der)) : undefined;
}

function guard<T>(file: string, label: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw bad(file, `its "${label}" block is not valid DER (${e.message}); the file is damaged, restore it from your backup`);
    throw e;
  }
}

/** A private key for signing, public key extraction or digest-private-key. */
export function parseSigningKey(bytes: Uint8Array, file: string): EcPrivateKey {
  const blocks = blocksOf(file, bytes);
  const sec1 = blocks.find((b) => b.label === 'EC PRIVATE KEY');
  if (sec1) return guard(file, sec1.label, () => parseSec1(file, sec1.der, ecParamsCurve(file, blocks)));
  const pkcs8 = blocks.find((b) => b.label === 'PRIVATE KEY');
  if (pkcs8) return guard(file, pkcs8.label, () => parsePkcs8(file, pkcs8.der));
  if (blocks.some((b) => b.label === 'PUBLIC KEY')) throw bad(file, 'it holds only a public key, and this needs the private signing key');
  throw bad(file, `it holds a "${blocks[0]!.label}" block, not a private key; ${NEED}`);
}

/**
 * A key to verify with: SEC1 private key PEM, PUBLIC KEY PEM, or the raw 64-byte X‖Y file that
 * extract-public-key writes. Like espsecure, a PKCS#8 "PRIVATE KEY" is refused here.
 */
export function parseVerifyingKey(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length === 64) return pointBytes(file, bytes).slice(1);
  const blocks = blocksOf(file, bytes);
  const sec1 = blocks.find((b) => b.label === 'EC PRIVATE KEY');
  if (sec1) return guard(file, sec1.label, () => parseSec1(file, sec1.der, ecParamsCurve(file, blocks)).publicKey);
  const spki = blocks.find((b) => b.label === 'PUBLIC KEY');
  if (spki) return guard(file, spki.label, () => parseSpki(file, spki.der));
  if (blocks.some((b) => b.label === 'PRIVATE KEY')) {
    throw bad(file, 'it is a PKCS#8 "PRIVATE KEY", which espsecure verify_signature does not accept either; verify with the public key from extract-public-key, a "PUBLIC KEY" PEM, or the SEC1 "EC PRIVATE KEY" file');
  }
  throw bad(file, `it holds a "${blocks[0]!.label}" block, not an EC key; use the public key from extract-public-key or a "PUBLIC KEY" PEM`);
}

/** SEC1 DER exactly as espsecure writes it: version 1, 32-byte scalar, named curve, public key. */
export function encodeSec1(key: EcPrivateKey): Uint8Array {
  const oid = Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
  return encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.INTEGER, Uint8Array.of(1)),
      encodeTlv(TAG.OCTET_STRING, key.d),
      encodeTlv(TAG.CTX0, encodeTlv(TAG.OID, oid)),
      encodeTlv(TAG.CTX1, encodeTlv(TAG.BIT_STRING, concat(Uint8Array.of(0, 4), key.publicKey))),
    ),
  );
}

export function encodeSec1Pem(key: EcPrivateKey): string {
  return encodePem('EC PRIVATE KEY', encodeSec1(key));
}

export function generateSigningKey(): EcPrivateKey {
  const d = p256.utils.randomSecretKey();
  return { d, publicKey: p256.getPublicKey(d, false).slice(1) };
}
