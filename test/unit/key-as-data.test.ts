import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, tempDir, vec } from './vectors/security-helpers';
import type { CliResult } from './vectors/cli-harness';
import { isUserError } from '../../src/core/errors';
import { readEspImage } from '../../src/core/image/esp-image';
import { describeFile } from '../../src/core/image/describe-image';
import { parsePartitionTable } from '../../src/core/partition/table';
import { keyMaterialInBytes } from '../../src/core/keystore/key-material';
import { fixtureKeys } from '../../scripts/make-fixture-firmware';

/**
 * A key file given where a command takes DATA (an image, data to sign, verify, encrypt, decrypt or
 * flash) is refused before anything is written, in one sentence that says it is a key file and
 * what to pass instead, and no byte of the key reaches stdout or stderr. Found by a new-user trial:
 * `image-info secure/flash_encryption_key.bin` quoted the key's first byte ("it starts with 0x54").
 */

/** A 256-bit key that starts 54 c8 e1 28, as the trial's did. */
const KEY = Buffer.from('54c8e128' + '9d3f07a1b2c4d6e8f0123456789abcdef0fedcba98765432' + '10aa55cc', 'hex');
const K = fixtureKeys();

/** The key's bytes in any of the forms a message could quote them: hex of the first bytes (joined, spaced, 0x-prefixed, any case). */
function leaksOf(key: Uint8Array, text: string): string[] {
  const t = text.toLowerCase();
  const b = Array.from(key.subarray(0, 4), (x) => x.toString(16).padStart(2, '0'));
  const forms = [b.slice(0, 2).join(''), b.slice(0, 2).join(' '), `0x${b[0]}`, `0x${b.slice(0, 4).reverse().join('')}`, Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64').toLowerCase()];
  return forms.filter((f) => t.includes(f));
}

function expectKeyRefusal(r: CliResult, message: string, dir: string, before: string[], key: Uint8Array = KEY): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr.join(' | ')}`);
  assert.deepEqual(r.stdout, []);
  assert.deepEqual(r.stderr, [message]);
  assert.deepEqual(leaksOf(key, [...r.stdout, ...r.stderr].join('\n')), [], 'no byte of the key in the output');
  // Nothing written: no output, no temporary file, the folder exactly as before.
  assert.deepEqual(listing(dir), before);
}

function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).sort();
}

describe('a key file given as a data input is refused, without a byte of it', () => {
  let dir: string;
  let store: string;
  let flashKey: string;
  let signingKey: string;
  let sbKey: string;
  beforeEach(() => {
    dir = tempDir();
    store = path.join(dir, 'secure');
    fs.mkdirSync(store, { mode: 0o700 });
    flashKey = path.join(store, 'flash_encryption_key.bin');
    fs.writeFileSync(flashKey, KEY, { mode: 0o600 });
    signingKey = path.join(store, 'secure_boot_signing_key.pem');
    fs.writeFileSync(signingKey, K.signingKeyPem, { mode: 0o600 });
    sbKey = path.join(dir, 'sbk.bin');
    fs.writeFileSync(sbKey, K.secureBootKey, { mode: 0o600 });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const out = (): string => path.join(dir, 'out.bin');

  /** Each command with the key file as its data input, and the sentence's ending (what to pass). */
  const COMMANDS: ReadonlyArray<{ name: string; argv: (data: string) => string[]; isNot: string; instead: string }> = [
    { name: 'image-info', argv: (d) => ['image-info', d], isNot: 'a firmware image', instead: "pass the image the build wrote (bootloader.bin, partitions.bin or the app's .bin) or a file read back from flash" },
    { name: 'digest-secure-bootloader', argv: (d) => ['digest-secure-bootloader', '--keyfile', sbKey, '--output', out(), d], isNot: 'a bootloader image', instead: 'pass the bootloader.bin the build wrote as IMAGE, and the secure boot key with --keyfile' },
    { name: 'sign-data', argv: (d) => ['sign-data', '--keyfile', signingKey, '--output', out(), d], isNot: 'data to sign', instead: 'pass the app or partition table to sign as DATAFILE, and the signing key with --keyfile' },
    { name: 'sign-data in place (no --output)', argv: (d) => ['sign-data', '--keyfile', signingKey, d], isNot: 'data to sign', instead: 'pass the app or partition table to sign as DATAFILE, and the signing key with --keyfile' },
    { name: 'verify-signature', argv: (d) => ['verify-signature', '--keyfile', signingKey, d], isNot: 'a signed file', instead: 'pass the signed app or partition table as DATAFILE, and the key with --keyfile' },
    { name: 'encrypt-flash-data', argv: (d) => ['encrypt-flash-data', '--keyfile', flashKey, '--address', '0x10000', '--output', out(), d], isNot: 'data to encrypt', instead: 'pass the image to encrypt as PLAINTEXT, and the flash-encryption key with --keyfile' },
    { name: 'decrypt-flash-data', argv: (d) => ['decrypt-flash-data', '--keyfile', flashKey, '--address', '0x10000', '--output', out(), d], isNot: 'ciphertext read from flash', instead: 'pass the encrypted image (a .bin_enc file or a flash read-back) as CIPHERTEXT, and the flash-encryption key with --keyfile' },
    { name: 'flash --dry-run ADDR FILE', argv: (d) => ['flash', '--dry-run', '--board', 'GPY', '--flash-size', '4194304', '--key-store', store, '0x10000', d], isNot: 'an image to flash', instead: 'keys go into eFuses (`pycom-secure efuse burn-keys`), never into flash, so give the images the build wrote as ADDR FILE pairs, or --build DIR' },
    // Refused before the board is opened: the port is never connected to.
    { name: 'verify-flash ADDR FILE', argv: (d) => ['verify-flash', '--port', 'socket://127.0.0.1:1', '--key-store', store, '0x10000', d], isNot: 'an image to flash', instead: 'keys go into eFuses (`pycom-secure efuse burn-keys`), never into flash, so give the images the build wrote as ADDR FILE pairs, or --build DIR' },
  ];

  for (const c of COMMANDS) {
    it(`${c.name}: the store's flash_encryption_key.bin (0600) is named as a key file`, async () => {
      const before = listing(dir);
      const r = await run(...c.argv(flashKey));
      const cmd = c.argv(flashKey)[0];
      expectKeyRefusal(r, `pycom-secure ${cmd}: ${flashKey} is a key file (its name flash_encryption_key.bin is that of a key store's key file), not ${c.isNot}; ${c.instead}.`, dir, before);
      assert.ok(fs.readFileSync(flashKey).equals(KEY), 'the key file is unchanged');
    });

    it(`${c.name}: a copy of the key under another name, readable by all, is named by its size`, async () => {
      const copy = path.join(dir, 'backup.bin');
      fs.writeFileSync(copy, KEY, { mode: 0o644 });
      fs.chmodSync(copy, 0o644);
      const before = listing(dir);
      const r = await run(...c.argv(copy));
      expectKeyRefusal(r, `pycom-secure ${c.argv(copy)[0]}: ${copy} is a key file (it is a 32-byte binary file, the size of a raw ESP32 key), not ${c.isNot}; ${c.instead}.`, dir, before);
      assert.ok(fs.readFileSync(copy).equals(KEY));
    });
  }

  it('a signing key PEM under another name and a key kept as hex text are named as keys too', async () => {
    const pem = path.join(dir, 'signer.txt');
    fs.writeFileSync(pem, K.signingKeyPem);
    const hexKey = path.join(dir, 'key.hex');
    fs.writeFileSync(hexKey, `${KEY.toString('hex')}\n`);
    const before = listing(dir);
    expectKeyRefusal(await run('image-info', pem), `pycom-secure image-info: ${pem} is a key file (it is a PEM private key), not a firmware image; pass the image the build wrote (bootloader.bin, partitions.bin or the app's .bin) or a file read back from flash.`, dir, before);
    expectKeyRefusal(await run('encrypt-flash-data', '--keyfile', flashKey, '--address', '0x10000', '--output', out(), hexKey), `pycom-secure encrypt-flash-data: ${hexKey} is a key file (it is hex text of a raw ESP32 key's size), not data to encrypt; pass the image to encrypt as PLAINTEXT, and the flash-encryption key with --keyfile.`, dir, before);
  });

  it('--keyfile keeps working: the same key encrypts and decrypts an image, and digests a bootloader', async () => {
    const enc = path.join(dir, 'app.bin_enc');
    const dec = path.join(dir, 'app.bin');
    assert.equal((await run('encrypt-flash-data', '--keyfile', flashKey, '--address', '0x10000', '--output', enc, vec('inputs/img_4096.bin'))).code, 0);
    assert.equal((await run('decrypt-flash-data', '--keyfile', flashKey, '--address', '0x10000', '--output', dec, enc)).code, 0);
    assert.ok(fs.readFileSync(dec).equals(fs.readFileSync(vec('inputs/img_4096.bin'))));
    assert.equal((await run('digest-secure-bootloader', '--keyfile', sbKey, '--output', out(), vec('inputs/bootloader_a.bin'))).code, 0);
    assert.ok(fs.existsSync(out()));
  });
});

describe('core messages that quote a file\'s bytes name key material instead', () => {
  /** The message of what `fn` throws (a UserError). */
  function refusal(fn: () => unknown): { code: string; message: string } {
    try {
      fn();
    } catch (e) {
      if (isUserError(e)) return { code: e.code, message: e.message };
      throw e;
    }
    assert.fail('accepted');
  }
  // Keys whose first bytes are the image magic, the table magic, or neither: each reaches a
  // different message that used to quote header bytes (the magic, segment count, hash byte, entry magic).
  const keys = [KEY, Buffer.concat([Buffer.from([0xe9, 0x11]), KEY.subarray(2)]), Buffer.concat([Buffer.from([0xaa, 0x50]), KEY.subarray(2)]), KEY.subarray(0, 24)];

  for (const key of keys) {
    const label = `${key.length}-byte key starting ${key.subarray(0, 2).toString('hex')}`;
    it(`readEspImage on a ${label}`, () => {
      const r = refusal(() => readEspImage(key, 'The app image app.bin'));
      assert.equal(r.code, 'E_KEY_AS_DATA');
      assert.equal(r.message, `The app image app.bin holds key material (it is a ${key.length}-byte binary file, the size of a raw ESP32 key), not an ESP32 firmware image; pass the .bin written by the build, and a key only to an option that asks for one.`);
      assert.deepEqual(leaksOf(key, r.message), []);
    });

    it(`parsePartitionTable and image-info's describeFile on a ${label}`, () => {
      const t = refusal(() => parsePartitionTable(key, 'the partition table partitions.bin'));
      assert.equal(t.message, `the partition table partitions.bin holds key material (it is a ${key.length}-byte binary file, the size of a raw ESP32 key), not a partition table; pass the partitions.bin the build wrote.`);
      const d = refusal(() => describeFile(key, 'x.bin'));
      assert.equal(d.code, 'E_KEY_AS_DATA');
      assert.deepEqual(leaksOf(key, t.message + d.message), []);
    });
  }

  it('a real image or table is not taken for a key, and 32 bytes of text are not a key', () => {
    const img = fs.readFileSync(vec('inputs/bootloader_a.bin'));
    assert.equal(keyMaterialInBytes(img), undefined);
    assert.equal(readEspImage(img).segmentCount > 0, true);
    assert.equal(keyMaterialInBytes(Buffer.from('a note that is 32 bytes long....')), undefined);
    // Hex-looking text of a key's length but one letter over and over (a test pattern) is no key.
    assert.equal(keyMaterialInBytes(Buffer.from('A'.repeat(64))), undefined);
    assert.equal(keyMaterialInBytes(Buffer.alloc(32, 0x11)), undefined);
    assert.equal(keyMaterialInBytes(KEY), 'it is a 32-byte binary file, the size of a raw ESP32 key');
    // Only the first 4 KB of a file: a PEM header there is a key; a raw key's size needs the whole file.
    assert.equal(keyMaterialInBytes(KEY, false), undefined);
    assert.equal(keyMaterialInBytes(Buffer.from(K.signingKeyPem), false), 'it is a PEM private key');
  });
});
