import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import type * as P11 from 'pkcs11js';
import { p256 } from '@noble/curves/nist.js';
import { UserError } from '../errors';
import { CURVE_NAMES } from '../crypto/key-oids';
import { decodeOid, readOne, TAG } from '../crypto/der';
import { fingerprint } from '../util/fingerprint';
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri';

/**
 * Secure boot v1 signing keys held in a PKCS#11 token (HSM, smart card, SoftHSM2), through the
 * pkcs11js binding, loaded only when a `pkcs11:` key is used (it is native and optional).
 * The token hashes nothing: the host computes SHA-256 and the token signs the 32-byte digest
 * with plain CKM_ECDSA (PKCS#11 v2.40 §2.3.1), which every EC token has; the combined
 * CKM_ECDSA_SHA256 is refused by some (SoftHSM2 among them). CKM_ECDSA returns r‖s, each
 * 32 bytes big-endian on P-256, which is exactly what the secure boot v1 signature block holds
 * after its version word. Errors name the token and the object, never the PIN.
 */

export const PKCS11_MODULE_ENV = 'PYCOM_PKCS11_MODULE';
export const PKCS11_PIN_ENV = 'PYCOM_PKCS11_PIN';

/** SoftHSM2's module on Debian (`apt-get install softhsm2`), named in hints only. */
export const SOFTHSM2_MODULE_DEBIAN = '/usr/lib/softhsm/libsofthsm2.so';

/** DER of the named curve prime256v1 (OID 1.2.840.10045.3.1.7), as CKA_EC_PARAMS holds it. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

export interface Pkcs11Access {
  /** The PKCS#11 module path; falls back to PYCOM_PKCS11_MODULE, then the URI's module-path. */
  module?: string;
  /** The user PIN; falls back to the URI's pin-source file, then PYCOM_PKCS11_PIN. */
  pin?: string;
  env?: NodeJS.ProcessEnv;
}

let binding: typeof P11 | undefined;

/** The pkcs11js binding, loaded on first use; UserError E_PKCS11_UNAVAILABLE when it cannot be. */
export function pkcs11Binding(): typeof P11 {
  if (binding) return binding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require('pkcs11js') as typeof P11;
    return binding;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new UserError('E_PKCS11_UNAVAILABLE', `Keys in a PKCS#11 token (pkcs11: URIs) need the native module pkcs11js, which this copy of the tool does not have (${why}); use the CLI from a source checkout after \`npm run setup\` (it compiles pkcs11js; the editor's .vsix does not carry it), or keep using a PEM signing key.`);
  }
}

function label(u: Pkcs11Uri): string {
  return formatPkcs11Uri({ ...u, modulePath: undefined, pinSource: undefined });
}

/** The module to load, from the access options, the environment or the URI (in that order). */
export function pkcs11ModulePath(u: Pkcs11Uri, access: Pkcs11Access = {}): string {
  const env = access.env ?? process.env;
  const m = access.module ?? env[PKCS11_MODULE_ENV] ?? u.modulePath;
  if (!m) {
    throw new UserError('E_PKCS11_NO_MODULE', `No PKCS#11 module is named for ${label(u)}; pass --pkcs11-module PATH or set ${PKCS11_MODULE_ENV} to your token's module (SoftHSM2 on Debian: ${SOFTHSM2_MODULE_DEBIAN}).`);
  }
  if (!fs.existsSync(m)) {
    throw new UserError('E_PKCS11_NO_MODULE', `The PKCS#11 module ${m} does not exist; pass --pkcs11-module with the path of your token's module (SoftHSM2 on Debian: ${SOFTHSM2_MODULE_DEBIAN}).`);
  }
  return m;
}

/** The PIN from the access options, the URI's pin-source file, or PYCOM_PKCS11_PIN; undefined when none. */
export function pkcs11PinFromEnvironment(u: Pkcs11Uri, access: Pkcs11Access = {}): string | undefined {
  if (access.pin !== undefined) return access.pin;
  if (u.pinSource !== undefined) {
    const file = u.pinSource.startsWith('file:') ? u.pinSource.slice(5).replace(/^\/\/(?=\/)/, '') : u.pinSource;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new UserError('E_PKCS11_PIN_SOURCE', `The pin-source file ${file} named by ${label(u)} cannot be read; check the path, or remove pin-source and set ${PKCS11_PIN_ENV}.`);
    }
    return text.split(/\r?\n/)[0]!;
  }
  const env = access.env ?? process.env;
  return env[PKCS11_PIN_ENV];
}

const CKR_NAMES: Record<number, string> = {};

function ckrName(P: typeof P11, code: number): string {
  if (Object.keys(CKR_NAMES).length === 0) {
    for (const [k, v] of Object.entries(P)) if (k.startsWith('CKR_') && typeof v === 'number') CKR_NAMES[v] ??= k;
  }
  return CKR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Turns a token's error into one sentence; UserErrors pass through. Never includes the PIN. */
function tokenError(P: typeof P11, e: unknown, u: Pkcs11Uri, doing: string): Error {
  if (e instanceof UserError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'number') return e instanceof Error ? e : new Error(String(e));
  const name = ckrName(P, code);
  const what = label(u);
  switch (code) {
    case P.CKR_PIN_INCORRECT:
    case P.CKR_PIN_INVALID:
    case P.CKR_PIN_LEN_RANGE:
      return new UserError('E_PKCS11_PIN', `The token refused the PIN for ${what} (${name}); set ${PKCS11_PIN_ENV} to the user PIN, or type it when asked. Tokens lock after a few wrong PINs.`);
    case P.CKR_PIN_LOCKED:
      return lockedError(what, name);
    case P.CKR_PIN_EXPIRED:
      return new UserError('E_PKCS11_PIN', `The PIN of the token of ${what} has expired (${name}); set a new user PIN with the token's own tool.`);
    case P.CKR_MECHANISM_INVALID:
    case P.CKR_KEY_FUNCTION_NOT_PERMITTED:
    case P.CKR_KEY_TYPE_INCONSISTENT:
    case P.CKR_FUNCTION_NOT_SUPPORTED:
    case P.CKR_MECHANISM_PARAM_INVALID:
      return new UserError('E_PKCS11_REFUSED', `The token refused to ${doing} with ${what} (${name}); secure boot v1 needs a P-256 key that may sign (CKA_SIGN true) with plain ECDSA (CKM_ECDSA).`);
    case P.CKR_TOKEN_NOT_PRESENT:
    case P.CKR_DEVICE_REMOVED:
      return new UserError('E_PKCS11_NO_TOKEN', `The token of ${what} is not present (${name}); plug it in and run the command again.`);
    default:
      return new UserError('E_PKCS11', `The token answered ${name} when asked to ${doing} with ${what}; check the token with its own tool and run the command again.`);
  }
}

function lockedError(what: string, why: string): UserError {
  return new UserError('E_PKCS11_LOCKED', `The token of ${what} is locked (${why}) after too many wrong PINs; its security officer must unlock it or set a new user PIN with the token's own tool before it can sign.`);
}

interface Open {
  P: typeof P11;
  mod: P11.PKCS11;
  session: Buffer;
}

/**
 * Loads the module, finds the token named by `u`, opens a session (read-write when `rw`), logs in
 * when `pin` is given, runs `fn`, then logs out and unloads. Nothing is kept open between calls.
 */
function withToken<T>(u: Pkcs11Uri, access: Pkcs11Access, opts: { login: boolean; rw?: boolean; doing: string }, fn: (o: Open) => T): T {
  const P = pkcs11Binding();
  const modulePath = pkcs11ModulePath(u, access);
  const mod = new P.PKCS11();
  try {
    mod.load(modulePath);
  } catch (e) {
    throw new UserError('E_PKCS11_MODULE', `The PKCS#11 module ${modulePath} could not be loaded (${(e as Error).message.split('\n')[0]}); pass --pkcs11-module with your token's module for this platform.`);
  }
  let initialised = false;
  let session: Buffer | undefined;
  try {
    mod.C_Initialize();
    initialised = true;
    const slot = findSlot(P, mod, u);
    session = mod.C_OpenSession(slot, P.CKF_SERIAL_SESSION | (opts.rw ? P.CKF_RW_SESSION : 0));
    if (opts.login) {
      // A token that says its user PIN is locked is not sent a PIN at all (it would only answer CKR_PIN_LOCKED).
      if ((mod.C_GetTokenInfo(slot).flags & P.CKF_USER_PIN_LOCKED) !== 0) throw lockedError(label(u), 'CKF_USER_PIN_LOCKED');
      const pin = pkcs11PinFromEnvironment(u, access);
      if (pin === undefined) {
        throw new UserError('E_PKCS11_NO_PIN', `The token of ${label(u)} needs its user PIN to ${opts.doing}; set ${PKCS11_PIN_ENV} or run the command in a terminal to be asked for it.`);
      }
      try {
        mod.C_Login(session, P.CKU_USER, pin);
      } catch (e) {
        if ((e as { code?: number }).code !== P.CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
    }
    return fn({ P, mod, session });
  } catch (e) {
    throw tokenError(P, e, u, opts.doing);
  } finally {
    if (session) {
      try {
        if (opts.login) mod.C_Logout(session);
      } catch {
        /* not logged in */
      }
      try {
        mod.C_CloseSession(session);
      } catch {
        /* already closed */
      }
    }
    try {
      if (initialised) mod.C_Finalize();
      mod.close();
    } catch {
      /* unloading is best effort */
    }
  }
}

const trimmed = (s: string) => s.replace(/[\s\0]+$/, '');

function findSlot(P: typeof P11, mod: P11.PKCS11, u: Pkcs11Uri): Buffer {
  const slots = mod.C_GetSlotList(true);
  const matches: Buffer[] = [];
  const labels: string[] = [];
  for (const [i, slot] of slots.entries()) {
    const info = mod.C_GetTokenInfo(slot);
    labels.push(trimmed(info.label));
    if (u.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== u.slotId && i !== u.slotId) continue;
    if (u.token !== undefined && trimmed(info.label) !== u.token) continue;
    if (u.serial !== undefined && trimmed(info.serialNumber) !== u.serial) continue;
    if (u.manufacturer !== undefined && trimmed(info.manufacturerID) !== u.manufacturer) continue;
    if (u.model !== undefined && trimmed(info.model) !== u.model) continue;
    if ((info.flags & P.CKF_TOKEN_INITIALIZED) === 0) continue;
    matches.push(slot);
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    const seen = labels.filter(Boolean);
    throw new UserError('E_PKCS11_NO_TOKEN', `No token matching ${label(u)} is present${seen.length ? ` (the module sees: ${seen.map((l) => `"${l}"`).join(', ')})` : ' (the module sees no initialised token)'}; plug it in, or correct token= in the URI.`);
  }
  throw new UserError('E_PKCS11_AMBIGUOUS', `${matches.length} tokens match ${label(u)}; add serial= to the URI to say which one.`);
}

function findObjects(o: Open, u: Pkcs11Uri, cls: number): Buffer[] {
  const tmpl: P11.Template = [{ type: o.P.CKA_CLASS, value: cls }];
  if (u.object !== undefined) tmpl.push({ type: o.P.CKA_LABEL, value: u.object });
  if (u.id !== undefined) tmpl.push({ type: o.P.CKA_ID, value: Buffer.from(u.id) });
  o.mod.C_FindObjectsInit(o.session, tmpl);
  try {
    return o.mod.C_FindObjects(o.session, 16);
  } finally {
    o.mod.C_FindObjectsFinal(o.session);
  }
}

function oneObject(o: Open, u: Pkcs11Uri, cls: number, what: string, loggedIn: boolean): Buffer {
  const found = findObjects(o, u, cls);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    const hint = loggedIn ? '' : ' (or it is a private object and the PIN was not given)';
    throw new UserError('E_PKCS11_NO_KEY', `The token has no ${what} matching ${label(u)}${hint}; check object= or id= in the URI, or make the key with generate-signing-key and this URI.`);
  }
  throw new UserError('E_PKCS11_AMBIGUOUS', `The token has ${found.length} ${what}s matching ${label(u)}; add id= to the URI to say which one.`);
}

/** Checks an EC key's CKA_KEY_TYPE and CKA_EC_PARAMS are P-256; UserError naming the curve otherwise. */
function checkP256(o: Open, key: Buffer, u: Pkcs11Uri): void {
  const [type] = o.mod.C_GetAttributeValue(o.session, key, [{ type: o.P.CKA_KEY_TYPE }]);
  const kt = type?.value ? Buffer.from(type.value as Buffer).readUIntLE(0, Math.min((type.value as Buffer).length, 6)) : -1;
  if (kt !== o.P.CKK_EC) {
    const names: Record<number, string> = { [o.P.CKK_RSA]: 'an RSA key', [o.P.CKK_DSA]: 'a DSA key', [o.P.CKK_AES]: 'an AES key' };
    throw new UserError('E_PKCS11_KEY_TYPE', `The token object ${label(u)} is ${names[kt] ?? `a key of type 0x${kt.toString(16)}`}; ESP32 secure boot v1 needs an ECDSA NIST P-256 (prime256v1) key, such as generate-signing-key makes in the token.`);
  }
  const [params] = o.mod.C_GetAttributeValue(o.session, key, [{ type: o.P.CKA_EC_PARAMS }]);
  const der = Buffer.from(params!.value as Buffer);
  if (der.equals(P256_PARAMS)) return;
  let curve = 'with explicit parameters';
  try {
    const oid = decodeOid(readOne(der, TAG.OID));
    curve = CURVE_NAMES[oid] ?? `with OID ${oid}`;
  } catch {
    /* explicit parameters or damaged: said as such */
  }
  throw new UserError('E_PKCS11_CURVE', `The token key ${label(u)} is on curve ${curve}; ESP32 secure boot v1 needs NIST P-256 (prime256v1), so make a P-256 key in the token (generate-signing-key with a new object= label).`);
}

/** CKA_EC_POINT (an OCTET STRING holding 04‖X‖Y, or the bare point) → X‖Y. */
function ecPoint(o: Open, key: Buffer, u: Pkcs11Uri): Uint8Array {
  const [attr] = o.mod.C_GetAttributeValue(o.session, key, [{ type: o.P.CKA_EC_POINT }]);
  let raw = new Uint8Array(attr!.value as Buffer);
  if (raw.length === 67 && raw[0] === 0x04 && raw[1] === 0x41) raw = raw.subarray(2);
  try {
    return p256.Point.fromBytes(raw).toBytes(false).slice(1);
  } catch {
    throw new UserError('E_PKCS11_KEY_TYPE', `The token's public key ${label(u)} is not a point on NIST P-256; check the object with the token's own tool.`);
  }
}

/**
 * The public key (X‖Y, 64 bytes big-endian) of the token key named by `uri`. Reads the public
 * key object, which tokens let anyone read, so no PIN is needed; UserError when the module, the
 * token or the object is missing, or the key is not P-256.
 */
export function pkcs11PublicKey(uri: string, access: Pkcs11Access = {}): Uint8Array {
  const u = parsePkcs11Uri(uri);
  return withToken(u, access, { login: false, doing: 'read the public key' }, (o) => {
    const pub = oneObject(o, u, o.P.CKO_PUBLIC_KEY, 'public key', false);
    checkP256(o, pub, u);
    return ecPoint(o, pub, u);
  });
}

/**
 * Signs a 32-byte SHA-256 digest with the token key named by `uri` (CKM_ECDSA); returns r‖s,
 * 64 bytes big-endian. Needs the user PIN. The signature is checked against `publicKey` (X‖Y)
 * before it is returned, so a token that answers with anything else is caught here.
 */
export function pkcs11SignDigest(uri: string, digest: Uint8Array, publicKey: Uint8Array, access: Pkcs11Access = {}): Uint8Array {
  if (digest.length !== 32) throw new Error(`pkcs11SignDigest needs a 32-byte SHA-256 digest, got ${digest.length} bytes`);
  const u = parsePkcs11Uri(uri);
  const sig = withToken(u, access, { login: true, doing: 'sign' }, (o) => {
    const key = oneObject(o, u, o.P.CKO_PRIVATE_KEY, 'private key', true);
    checkP256(o, key, u);
    o.mod.C_SignInit(o.session, { mechanism: o.P.CKM_ECDSA }, key);
    return new Uint8Array(o.mod.C_Sign(o.session, Buffer.from(digest), Buffer.alloc(132)));
  });
  if (sig.length !== 64) {
    throw new UserError('E_PKCS11_REFUSED', `The token answered a ${sig.length}-byte signature for ${label(u)}, not the 64-byte r‖s CKM_ECDSA gives on P-256; the key is not a P-256 key.`);
  }
  const pub = new Uint8Array(65);
  pub[0] = 4;
  pub.set(publicKey, 1);
  if (!p256.verify(sig, digest, pub, { prehash: false, lowS: false })) {
    throw new UserError('E_PKCS11_MISMATCH', `The token's signature with ${label(u)} does not verify against its public key object (fingerprint ${fingerprint(publicKey)}); the private and public objects are not one pair, so fix the token before signing with it.`);
  }
  return sig;
}

/**
 * Checks that the PIN opens the token of `uri` and that the private key is there and can be
 * used: logs in, finds the key, checks its curve. Used before long work (a build) so a wrong
 * PIN is found first.
 */
export function pkcs11CheckAccess(uri: string, access: Pkcs11Access = {}): void {
  const u = parsePkcs11Uri(uri);
  withToken(u, access, { login: true, doing: 'sign' }, (o) => {
    const key = oneObject(o, u, o.P.CKO_PRIVATE_KEY, 'private key', true);
    checkP256(o, key, u);
  });
}

/**
 * Makes a new P-256 key pair in the token: the private key non-extractable and sensitive
 * (CKA_EXTRACTABLE false, CKA_SENSITIVE true), both on the token (CKA_TOKEN true), labelled
 * with the URI's object= and given its id= (a random 8-byte id when none). Refuses when an
 * object with that label or id already exists: keys are never replaced. Returns X‖Y.
 */
export function pkcs11GenerateSigningKey(uri: string, access: Pkcs11Access = {}): { publicKey: Uint8Array; uri: string } {
  const u = parsePkcs11Uri(uri);
  if (u.object === undefined) throw new UserError('E_PKCS11_URI', `A new token key needs a label: add object=LABEL to ${label(u)}.`);
  const id = u.id ?? new Uint8Array(randomBytes(8));
  return withToken(u, access, { login: true, rw: true, doing: 'make a key' }, (o) => {
    for (const cls of [o.P.CKO_PRIVATE_KEY, o.P.CKO_PUBLIC_KEY]) {
      if (findObjects(o, { object: u.object }, cls).length > 0 || (u.id && findObjects(o, { id: u.id }, cls).length > 0)) {
        throw new UserError('E_EXISTS', `The token already holds a key named by ${label(u)}, and keys are never replaced; use it as it is, or choose another object= label.`);
      }
    }
    const common = [
      { type: o.P.CKA_TOKEN, value: true },
      { type: o.P.CKA_LABEL, value: u.object! },
      { type: o.P.CKA_ID, value: Buffer.from(id) },
    ];
    const keys = o.mod.C_GenerateKeyPair(
      o.session,
      { mechanism: o.P.CKM_EC_KEY_PAIR_GEN },
      [...common, { type: o.P.CKA_EC_PARAMS, value: P256_PARAMS }, { type: o.P.CKA_VERIFY, value: true }, { type: o.P.CKA_PRIVATE, value: false }],
      [...common, { type: o.P.CKA_PRIVATE, value: true }, { type: o.P.CKA_SENSITIVE, value: true }, { type: o.P.CKA_EXTRACTABLE, value: false }, { type: o.P.CKA_SIGN, value: true }],
    );
    const publicKey = ecPoint(o, keys.publicKey, u);
    return { publicKey, uri: formatPkcs11Uri({ token: u.token, object: u.object, id, serial: u.serial }) };
  });
}
