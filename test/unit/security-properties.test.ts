import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import { aes256Block } from '../../src/core/crypto/aes256';
import { decryptFlashData, encryptFlashData } from '../../src/core/crypto/flash-encryption';
import { tweakedKey } from '../../src/core/crypto/flash-tweak';
import { normaliseHardwareKey } from '../../src/core/crypto/key-normalise';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { signData, verifySignedData } from '../../src/core/crypto/signature';
import { blockWordsToKeyFile, keyFileToBlockWords, keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { run, tempDir, transcript } from './vectors/security-helpers';

const MAX = 0x1000000;
const keyArb = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 24, maxLength: 24 }));
const confArb = fc.integer({ min: 0, max: 0xf });
/** Data plus a 16-aligned address that keeps it below 16 MiB. */
const placedData = fc.uint8Array({ minLength: 0, maxLength: 300 }).chain((data) =>
  fc.record({ data: fc.constant(data), address: fc.integer({ min: 0, max: (MAX - Math.ceil(data.length / 16) * 16) / 16 }).map((n) => n * 16) }),
);

const rev = (b: Uint8Array): Buffer => Buffer.from(b).reverse();

/** The spec's formula, one node:crypto cipher per block: slow but obviously right. */
function referenceEncrypt(plain: Uint8Array, key: Uint8Array, address: number, conf: number): Buffer {
  const k32 = normaliseHardwareKey(key, 'flash-encryption');
  const padded = Buffer.alloc(Math.ceil(plain.length / 16) * 16, 0xff);
  padded.set(plain);
  const out = Buffer.alloc(padded.length);
  for (let i = 0; i < padded.length; i += 16) {
    const ka = tweakedKey(k32, (address + i) & ~0x1f, conf);
    const d = createDecipheriv('aes-256-ecb', ka, null).setAutoPadding(false);
    out.set(rev(d.update(rev(padded.subarray(i, i + 16)))), i);
  }
  return out;
}

describe('security properties', () => {
  it('hand-written AES-256 matches node:crypto in both directions', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (key, block) => {
        const enc = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(block);
        const dec = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(block);
        assert.deepEqual(Buffer.from(aes256Block(key, block, 'encrypt')), enc);
        assert.deepEqual(Buffer.from(aes256Block(key, block, 'decrypt')), dec);
      }),
      { numRuns: 300 },
    );
  });

  it('fast flash encryption equals the per-block reference for any key, CONF and address', () => {
    fc.assert(
      fc.property(keyArb, confArb, placedData, (key, conf, { data, address }) => {
        const p = { key, address, flashCryptConf: conf };
        assert.deepEqual(Buffer.from(encryptFlashData(data, p)), referenceEncrypt(data, key, address, conf));
      }),
      { numRuns: 150 },
    );
  });

  it('decrypt(encrypt(x)) = x, padded deterministically with 0xFF', () => {
    fc.assert(
      fc.property(keyArb, confArb, placedData, (key, conf, { data, address }) => {
        const p = { key, address, flashCryptConf: conf };
        const enc = encryptFlashData(data, p);
        assert.equal(enc.length, Math.ceil(data.length / 16) * 16);
        assert.deepEqual(Buffer.from(encryptFlashData(data, p)), Buffer.from(enc), 'deterministic');
        const dec = decryptFlashData(enc, p);
        assert.deepEqual(Buffer.from(dec.subarray(0, data.length)), Buffer.from(data));
        assert.ok(dec.subarray(data.length).every((b) => b === 0xff));
      }),
      { numRuns: 300 },
    );
  });

  it('ciphertext of a block depends only on its own address (a split encrypts the same)', () => {
    fc.assert(
      fc.property(keyArb, confArb, fc.uint8Array({ minLength: 32, maxLength: 256 }).map((d) => d.subarray(0, d.length & ~15)), fc.integer({ min: 0, max: 0xff000 }), (key, conf, data, blk) => {
        const address = blk * 16;
        const whole = encryptFlashData(data, { key, address, flashCryptConf: conf });
        const tail = encryptFlashData(data.subarray(16), { key, address: address + 16, flashCryptConf: conf });
        assert.deepEqual(Buffer.from(whole.subarray(16)), Buffer.from(tail));
      }),
      { numRuns: 100 },
    );
  });

  it('sign then verify succeeds; any tampering fails', () => {
    const key = generateSigningKey();
    const other = generateSigningKey();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (data, where, flip) => {
        const signed = signData(data, key);
        assert.ok(verifySignedData(signed, key.publicKey));
        assert.ok(!verifySignedData(signed, other.publicKey), 'another key');
        const tampered = Uint8Array.from(signed);
        const i = where % signed.length;
        tampered[i]! ^= flip;
        const inVersion = i >= data.length && i < data.length + 4;
        if (inVersion) assert.throws(() => verifySignedData(tampered, key.publicKey), /version/);
        else assert.ok(!verifySignedData(tampered, key.publicKey), `byte ${i} flipped`);
      }),
      { numRuns: 60 },
    );
  });

  it('eFuse key layout round-trips for every option', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom('none' as const, '3/4' as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), (reverse, coding, raw) => {
        const key = coding === 'none' ? raw : raw.subarray(0, 24);
        const opts = { reverse, coding };
        assert.deepEqual(blockWordsToKeyFile(keyFileToBlockWords(key, opts), opts), Uint8Array.from(key));
        assert.deepEqual(blockWordsToKeyFile(keyFileToReadWords(key, opts), opts), Uint8Array.from(key));
      }),
    );
  });

  it('CLI round trip: decrypt-flash-data undoes encrypt-flash-data', async () => {
    const dir = tempDir();
    try {
      await fc.assert(
        fc.asyncProperty(keyArb, confArb, placedData, async (key, conf, { data, address }) => {
          fs.writeFileSync(path.join(dir, 'k.bin'), key);
          fs.writeFileSync(path.join(dir, 'p.bin'), data);
          for (const f of ['e.bin', 'd.bin']) fs.rmSync(path.join(dir, f), { force: true });
          const common = ['--keyfile', path.join(dir, 'k.bin'), '--address', String(address), '--flash-crypt-conf', `0x${conf.toString(16)}`];
          assert.equal((await run('encrypt-flash-data', ...common, '--output', path.join(dir, 'e.bin'), path.join(dir, 'p.bin'))).code, 0);
          assert.equal((await run('decrypt-flash-data', ...common, '--output', path.join(dir, 'd.bin'), path.join(dir, 'e.bin'))).code, 0);
          const dec = fs.readFileSync(path.join(dir, 'd.bin'));
          assert.deepEqual(dec.subarray(0, data.length), Buffer.from(data));
        }),
        { numRuns: 25 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no CLI output ever contains the key bytes it used', async () => {
    const dir = tempDir();
    const p = (f: string): string => path.join(dir, f);
    try {
      const img = p('img.bin');
      fs.writeFileSync(img, Buffer.alloc(1000, 0x5a));
      fs.copyFileSync(path.join(__dirname, '..', 'fixtures', 'vectors', 'inputs', 'bootloader_a.bin'), p('bl.bin'));
      const steps: string[][] = [
        ['generate-flash-encryption-key', p('flash.bin')],
        ['generate-signing-key', p('sign.pem')],
        ['digest-private-key', '--keyfile', p('sign.pem'), p('sb.bin')],
        ['extract-public-key', '--keyfile', p('sign.pem'), p('pub.bin')],
        ['digest-secure-bootloader', '--keyfile', p('sb.bin'), '--output', p('bl-digest.bin'), p('bl.bin')],
        ['sign-data', '--keyfile', p('sign.pem'), '--output', p('signed.bin'), img],
        ['verify-signature', '--keyfile', p('sign.pem'), p('signed.bin')],
        ['encrypt-flash-data', '--keyfile', p('flash.bin'), '--address', '0x10000', '--output', p('enc.bin'), p('signed.bin')],
        ['decrypt-flash-data', '--keyfile', p('flash.bin'), '--address', '0x10000', '--output', p('dec.bin'), p('enc.bin')],
        ['encrypt-flash-data', '--keyfile', p('flash.bin'), '--address', '0x10008', '--output', p('x.bin'), img],
        ['generate-flash-encryption-key', p('flash.bin')],
        ['verify-signature', '--keyfile', p('sign.pem'), img],
      ];
      const start = transcript.length;
      for (const s of steps) await run(...s);
      const seen = transcript.slice(start).flatMap((r) => [...r.stdout, ...r.stderr]).join('\n').toLowerCase();
      assert.match(seen, /signature is valid/);
      const pem = fs.readFileSync(p('sign.pem'), 'utf8');
      const d = Buffer.from(pem.split('\n').slice(1, 4).join(''), 'base64').subarray(7, 39);
      const secrets = [fs.readFileSync(p('flash.bin')), fs.readFileSync(p('sb.bin')), d];
      for (const s of secrets) {
        assert.equal(s.length >= 24, true);
        assert.ok(!seen.includes(s.toString('hex')), 'key hex in CLI output');
        assert.ok(!seen.includes(s.toString('hex').slice(0, 24)), 'part of a key in CLI output');
        assert.ok(!seen.includes(s.toString('base64').toLowerCase().slice(0, 16)), 'key base64 in CLI output');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('flash decryption of large images, repeated in one run', () => {
  it('a repeat gives the same plaintext as a fresh decryption, as its own copy, and never the result for another key, address or config', () => {
    const plain = new Uint8Array(128 * 1024).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    const k1 = new Uint8Array(32).fill(0x11);
    const k2 = new Uint8Array(32).fill(0x22);
    const p = { key: k1, address: 0x10000, flashCryptConf: 0xf };
    const cipher = encryptFlashData(plain, p);
    const a = decryptFlashData(cipher, p);
    assert.deepEqual(a, plain);
    a.fill(0); // the caller's copy: changing it changes nothing for the next caller
    assert.deepEqual(decryptFlashData(cipher, p), plain);
    assert.deepEqual(decryptFlashData(cipher, { ...p, key: k1.slice() }), plain, 'the same key in another buffer');
    for (const other of [{ ...p, key: k2 }, { ...p, address: 0x20000 }, { ...p, flashCryptConf: 0x3 }]) {
      const fresh = encryptFlashData(decryptFlashData(cipher, other), other);
      assert.deepEqual(fresh, cipher, 'decrypting and encrypting again with the same parameters round-trips');
      assert.notDeepEqual(decryptFlashData(cipher, other), plain, `not the plaintext of the first parameters: ${JSON.stringify({ address: other.address, conf: other.flashCryptConf })}`);
    }
  });
});
