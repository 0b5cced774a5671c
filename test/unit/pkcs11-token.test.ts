import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type * as P11 from 'pkcs11js';
import { cli } from './helpers/cli';
import { makeToken, SOFTHSM_MODULE, USER_PIN, type SoftHsmToken } from './helpers/softhsm';
import { tmpDir } from './flash-harness';
import { parsePkcs11Uri } from '../../src/core/keys/pkcs11-uri';
import { pkcs11Binding } from '../../src/core/keys/pkcs11';
import { openSigner } from '../../src/core/keys/signer';
import { KeyStore } from '../../src/core/keystore/key-store';
import { storeSecureBootKey } from '../../src/core/keystore/secure-boot-key-source';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { encodeSec1Pem, generateSigningKey } from '../../src/core/crypto/signing-key';
import { verifySignedData, SIGNATURE_BLOCK_LEN } from '../../src/core/crypto/signature';

/**
 * Signing keys that never leave a PKCS#11 token, against a real SoftHSM2 token made per test in a
 * temporary folder (nothing mocked at the PKCS#11 boundary).
 */

const URI = 'pkcs11:token=pycom;object=secure-boot';

/** Opens a logged-in R/W session on the test token, for what the tests do behind the product's back. */
function withSession<T>(fn: (P: typeof P11, mod: P11.PKCS11, session: Buffer) => T): T {
  const P = pkcs11Binding();
  const mod = new P.PKCS11();
  mod.load(SOFTHSM_MODULE);
  mod.C_Initialize();
  try {
    const slot = mod.C_GetSlotList(true)[0]!;
    const session = mod.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    mod.C_Login(session, P.CKU_USER, USER_PIN);
    try {
      return fn(P, mod, session);
    } finally {
      mod.C_Logout(session);
      mod.C_CloseSession(session);
    }
  } finally {
    mod.C_Finalize();
    mod.close();
  }
}

/** A key pair made directly in the token (for keys the product must refuse). */
function rawKeyPair(label: string, curveOidDer: string, sign: boolean): void {
  withSession((P, mod, session) => {
    const common = [{ type: P.CKA_TOKEN, value: true }, { type: P.CKA_LABEL, value: label }, { type: P.CKA_ID, value: Buffer.from(label) }];
    mod.C_GenerateKeyPair(session, { mechanism: P.CKM_EC_KEY_PAIR_GEN },
      [...common, { type: P.CKA_EC_PARAMS, value: Buffer.from(curveOidDer, 'hex') }, { type: P.CKA_VERIFY, value: true }],
      [...common, { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_SIGN, value: sign }]);
  });
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return fn().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe('pkcs11: URIs (RFC 7512)', () => {
  it('reads token, object, id (percent-encoded) and module-path', () => {
    const u = parsePkcs11Uri('pkcs11:token=My%20Token;object=sb;id=%01%ff?module-path=/usr/lib/x.so');
    assert.equal(u.token, 'My Token');
    assert.equal(u.object, 'sb');
    assert.deepEqual([...u.id!], [1, 255]);
    assert.equal(u.modulePath, '/usr/lib/x.so');
  });

  it('refuses a PIN written in the URI, without repeating it', () => {
    assert.throws(() => parsePkcs11Uri('pkcs11:token=t;object=o?pin-value=s3cr3t-99'), (e: Error) => {
      assert.match(e.message, /contains pin-value, and a PIN must never be written in a key reference/);
      assert.ok(!e.message.includes('s3cr3t-99'));
      return true;
    });
  });

  it('says what is wrong with a malformed URI', () => {
    assert.throws(() => parsePkcs11Uri('pkcs11:token=t'), /names no key \(give object=LABEL or id=%HEX\)/);
    assert.throws(() => parsePkcs11Uri('pkcs11:token=t;object=o;colour=red'), /"colour" is not an RFC 7512 path attribute/);
    assert.throws(() => parsePkcs11Uri('pkcs11:token=t;object=o;object=p'), /"object" is given twice/);
  });
});

describe('signing keys in a PKCS#11 token (SoftHSM2)', function () {
  this.timeout(60000);
  let token: SoftHsmToken;
  let dir: string;
  beforeEach(() => {
    token = makeToken();
    dir = tmpDir('pkcs11-');
  });
  afterEach(() => {
    token.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const env = (pin: string | null = USER_PIN) => ({ PYCOM_PKCS11_MODULE: SOFTHSM_MODULE, PYCOM_PKCS11_PIN: pin ?? undefined });

  it('generate-signing-key makes a non-extractable P-256 pair in the token and records its URI (no secret) in the store', async () => {
    const store = new KeyStore(path.join(dir, 'secure'));
    const r = await withEnv(env(), () => cli(['generate-signing-key', URI, '--key-store', store.dir]));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Made an ECDSA NIST P-256 signing key in the token: pkcs11:token=pycom;object=secure-boot;id=(%[0-9a-f]{2}){8} \(public key fingerprint [0-9a-f]+; the private key cannot leave the token\)/);
    const ref = fs.readFileSync(store.signingKeyRefPath, 'utf8');
    assert.match(ref, /^pkcs11:token=pycom;object=secure-boot;id=(%[0-9a-f]{2}){8}\n$/);
    assert.equal(fs.statSync(store.signingKeyRefPath).mode & 0o777, 0o600);
    assert.ok(!r.out.includes(USER_PIN) && !r.err.includes(USER_PIN) && !ref.includes(USER_PIN));
    withSession((P, mod, session) => {
      mod.C_FindObjectsInit(session, [{ type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, { type: P.CKA_LABEL, value: 'secure-boot' }]);
      const keys = mod.C_FindObjects(session, 10);
      mod.C_FindObjectsFinal(session);
      assert.equal(keys.length, 1);
      const attrs = mod.C_GetAttributeValue(session, keys[0]!, [{ type: P.CKA_EXTRACTABLE }, { type: P.CKA_SENSITIVE }, { type: P.CKA_TOKEN }]);
      assert.deepEqual(attrs.map((a) => (a.value as Buffer)[0]), [0, 1, 1]);
      assert.throws(() => mod.C_GetAttributeValue(session, keys[0]!, [{ type: P.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
    });
    // Never replaced: the same label again is refused, and the token still has one key.
    const again = await withEnv(env(), () => cli(['generate-signing-key', URI]));
    assert.equal(again.code, 2);
    assert.match(again.err, /already holds a key named by pkcs11:token=pycom;object=secure-boot, and keys are never replaced/);
  });

  it('sign-data through the token writes a secure boot v1 block that verify-signature and the extracted public key accept', async () => {
    await withEnv(env(), () => cli(['generate-signing-key', URI]));
    const data = path.join(dir, 'data.bin');
    fs.writeFileSync(data, Buffer.alloc(4096, 0x5a));
    const signed = path.join(dir, 'signed.bin');
    const s = await withEnv(env(), () => cli(['sign-data', '--keyfile', URI, '--output', signed, data]));
    assert.equal(s.code, 0, s.err);
    const bytes = fs.readFileSync(signed);
    assert.equal(bytes.length, 4096 + SIGNATURE_BLOCK_LEN);
    assert.deepEqual([...bytes.subarray(4096, 4100)], [0, 0, 0, 0], 'version word 0, then r‖s');
    const pub = path.join(dir, 'pub.bin');
    assert.equal((await withEnv(env(null), () => cli(['extract-public-key', '--keyfile', URI, pub]))).code, 0, 'the public key needs no PIN');
    assert.equal(fs.readFileSync(pub).length, 64);
    assert.ok(verifySignedData(bytes, fs.readFileSync(pub)));
    const v = await withEnv(env(null), () => cli(['verify-signature', '--keyfile', pub, signed]));
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /Signature is valid/);
    const vt = await withEnv(env(null), () => cli(['verify-signature', '--keyfile', URI, signed]));
    assert.equal(vt.code, 0, vt.err);
    // One byte changed: refused.
    bytes[10]! ^= 1;
    fs.writeFileSync(signed, bytes);
    assert.equal((await withEnv(env(null), () => cli(['verify-signature', '--keyfile', pub, signed]))).code, 2);
  });

  describe('clear errors, and nothing written', () => {
    async function signFails(argv: string[], pin: string | null, re: RegExp): Promise<void> {
      const data = path.join(dir, 'data.bin');
      fs.writeFileSync(data, Buffer.alloc(256, 1));
      const out = path.join(dir, 'out.bin');
      const r = await withEnv(env(pin), () => cli(['sign-data', ...argv, '--output', out, data]));
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, re);
      assert.ok(!fs.existsSync(out), 'no output file');
      assert.deepEqual(fs.readFileSync(data), Buffer.alloc(256, 1), 'input untouched');
      if (pin) assert.ok(!r.err.includes(pin) && !r.out.includes(pin), 'the PIN is never printed');
    }

    it('wrong PIN', async () => {
      await withEnv(env(), () => cli(['generate-signing-key', URI]));
      await signFails(['--keyfile', URI], '000000', /The token refused the PIN for pkcs11:token=pycom;object=secure-boot \(CKR_PIN_INCORRECT\); set PYCOM_PKCS11_PIN to the user PIN/);
    });

    it('no PIN and no terminal to ask on', async () => {
      await withEnv(env(), () => cli(['generate-signing-key', URI]));
      await signFails(['--keyfile', URI], null, /needs its user PIN to sign; set PYCOM_PKCS11_PIN or run the command in a terminal/);
    });

    it('locked token (CKF_USER_PIN_LOCKED / CKR_PIN_LOCKED)', async () => {
      await withEnv(env(), () => cli(['generate-signing-key', URI]));
      // A locked token reports CKF_USER_PIN_LOCKED in its token info (and answers CKR_PIN_LOCKED to a login);
      // the product reads the flag first and sends no PIN to a locked token.
      lockUserPin(token);
      await signFails(['--keyfile', URI], USER_PIN, /The token of pkcs11:token=pycom;object=secure-boot is locked \(CKF_USER_PIN_LOCKED\) after too many wrong PINs; its security officer must unlock it/);
    });

    it('missing object, missing token', async () => {
      await signFails(['--keyfile', 'pkcs11:token=pycom;object=nope'], USER_PIN, /The token has no public key matching pkcs11:token=pycom;object=nope/);
      await signFails(['--keyfile', 'pkcs11:token=other;object=nope'], USER_PIN, /No token matching pkcs11:token=other;object=nope is present \(the module sees: "pycom"\)/);
    });

    it('a key on another curve (secp384r1)', async () => {
      rawKeyPair('p384', '06052b81040022', true);
      await signFails(['--keyfile', 'pkcs11:token=pycom;object=p384'], USER_PIN, /is on curve secp384r1; ESP32 secure boot v1 needs NIST P-256/);
    });

    it('a token that refuses to sign with the key (CKA_SIGN false)', async () => {
      rawKeyPair('nosign', '06082a8648ce3d030107', false);
      await signFails(['--keyfile', 'pkcs11:token=pycom;object=nosign'], USER_PIN, /The token refused to sign with pkcs11:token=pycom;object=nosign \(CKR_KEY_FUNCTION_NOT_PERMITTED\)/);
    });

    it('missing module', async () => {
      await signFails(['--keyfile', URI, '--pkcs11-module', path.join(dir, 'nope.so')], USER_PIN, /The PKCS#11 module .*nope\.so does not exist; pass --pkcs11-module/);
      const r = await withEnv({ PYCOM_PKCS11_MODULE: undefined, PYCOM_PKCS11_PIN: USER_PIN }, () => cli(['extract-public-key', '--keyfile', URI, path.join(dir, 'p.bin')]));
      assert.equal(r.code, 2);
      assert.match(r.err, /No PKCS#11 module is named for pkcs11:token=pycom;object=secure-boot; pass --pkcs11-module PATH or set PYCOM_PKCS11_MODULE/);
      assert.ok(!fs.existsSync(path.join(dir, 'p.bin')));
    });

    it('without the pkcs11js binding (a .vsix, or a machine where it could not compile) a token key is refused plainly', () => {
      const hook = path.join(dir, 'no-pkcs11js.js');
      fs.writeFileSync(hook, "const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...a) { if (req === 'pkcs11js') throw new Error(\"Cannot find module 'pkcs11js'\"); return r.call(this, req, ...a); };\n");
      const out = path.join(dir, 'p.bin');
      const r = spawnSync(process.execPath, ['-r', hook, path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js'), 'extract-public-key', '--keyfile', URI, out], { env: { ...process.env, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE }, encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /Keys in a PKCS#11 token \(pkcs11: URIs\) need the native module pkcs11js, which this copy of the tool does not have \(Cannot find module 'pkcs11js'\); use the CLI from a source checkout after `npm run setup`/);
      assert.ok(!fs.existsSync(out));
      // A PEM key still works in that copy: the binding is loaded only for pkcs11: keys.
      const pem = path.join(dir, 'k.pem');
      fs.writeFileSync(pem, encodeSec1Pem(generateSigningKey()));
      const ok = spawnSync(process.execPath, ['-r', hook, path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js'), 'extract-public-key', '--keyfile', pem, out], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
    });

    it('digest-private-key of a token key says to use a random secure boot key', async () => {
      await withEnv(env(), () => cli(['generate-signing-key', URI]));
      const r = await withEnv(env(), () => cli(['digest-private-key', '--keyfile', URI, path.join(dir, 'k.bin')]));
      assert.equal(r.code, 2);
      assert.match(r.err, /stays in a PKCS#11 token, so the secure boot key cannot be derived from it; make a random secure boot key with generate-secure-boot-key/);
      assert.ok(!fs.existsSync(path.join(dir, 'k.bin')));
    });
  });

  it('generate-secure-boot-key writes a random 0600 key, never overwritten, which the store then uses for BLOCK2', async () => {
    const store = new KeyStore(path.join(dir, 'secure'));
    await withEnv(env(), () => cli(['generate-signing-key', URI, '--key-store', store.dir]));
    assert.throws(() => storeSecureBootKey(store, 256), /stays in a PKCS#11 token, so the secure boot key \(BLOCK2\) cannot be derived from it/);
    const r = await cli(['generate-secure-boot-key', store.secureBootKeyPath]);
    assert.equal(r.code, 0, r.err);
    assert.equal(fs.statSync(store.secureBootKeyPath).mode & 0o777, 0o600);
    const key = fs.readFileSync(store.secureBootKeyPath);
    assert.equal(key.length, 32);
    const again = await cli(['generate-secure-boot-key', store.secureBootKeyPath]);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists .* never overwritten/);
    assert.deepEqual(fs.readFileSync(store.secureBootKeyPath), key);
    const s = storeSecureBootKey(store, 192)!;
    assert.equal(s.origin, 'random');
    assert.deepEqual(Buffer.from(s.key), key.subarray(0, 24));
  });

  it('a PEM store still derives BLOCK2 from the signing key (Pycom\'s flow), and a store with both signing keys is refused', () => {
    const store = new KeyStore(path.join(dir, 'secure'));
    store.ensureDir();
    const pem = generateSigningKey();
    fs.writeFileSync(store.signingKeyPath, encodeSec1Pem(pem));
    const s = storeSecureBootKey(store, 256)!;
    assert.equal(s.origin, 'derived');
    assert.deepEqual(s.key, digestPrivateKey(pem, 256));
    fs.writeFileSync(store.signingKeyRefPath, `${URI}\n`);
    assert.throws(() => store.signingKeyFile(), /holds both secure_boot_signing_key\.pem and secure_boot_signing_key\.pkcs11/);
  });

  it('openSigner signs through the token from the store\'s reference file', async () => {
    const store = new KeyStore(path.join(dir, 'secure'));
    await withEnv(env(), () => cli(['generate-signing-key', URI, '--key-store', store.dir]));
    const signer = openSigner(store.signingKeyRefPath, { module: SOFTHSM_MODULE, pin: USER_PIN });
    assert.equal(signer.kind, 'pkcs11');
    const digest = new Uint8Array(32).fill(7);
    const a = signer.signDigest(digest);
    const b = signer.signDigest(digest);
    assert.equal(a.length, 64);
    assert.notDeepEqual(a, b, 'the token picks its own nonce; both verify (checked inside signDigest)');
  });
});

/**
 * Locks the user PIN as SoftHSM2 records it: CKF_USER_PIN_LOCKED (0x40000) in the token flags,
 * which it keeps in the token's token.object file as its vendor attribute CKA_OS_TOKENFLAGS
 * (0x8000534B: CKA_VENDOR_DEFINED + 0x5348 + 3), serialised as type (8 bytes), kind (8; 2 is an
 * unsigned long) and value (8), big-endian. softhsm2-util has no command that locks a token, and
 * wrong PINs only set CKF_USER_PIN_COUNT_LOW in SoftHSM2, so the test sets the flag itself.
 */
function lockUserPin(t: SoftHsmToken): void {
  const tokenDir = fs.readdirSync(path.join(t.dir, 'tokens'))[0]!;
  const file = path.join(t.dir, 'tokens', tokenDir, 'token.object');
  const buf = fs.readFileSync(file);
  const at = buf.indexOf(Buffer.from('000000008000534b0000000000000002', 'hex'));
  if (at < 0) throw new Error(`the token flags attribute was not found in ${file}; SoftHSM2's file format changed`);
  const flags = buf.readBigUInt64BE(at + 16);
  buf.writeBigUInt64BE(flags | 0x40000n, at + 16);
  fs.writeFileSync(file, buf);
}
