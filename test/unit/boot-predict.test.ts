import { strict as assert } from 'node:assert';
import { predictBoot, type BootVerdict } from '../../src/core/boot/predict';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { emptyWords, field, withField, type EfuseWords } from '../../src/core/efuse/fields';
import { keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { encryptFlashData } from '../../src/core/crypto/flash-encryption';
import { digestSecureBootloader } from '../../src/core/crypto/bootloader-digest';
import { signData } from '../../src/core/crypto/signature';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { writePartitionTable } from '../../src/core/partition/table';

const FLASH = 0x400000;

/** A minimal valid ESP32 image: one segment holding `payload`, checksum at offset ≡ 15 mod 16. */
function image(payload: string): Buffer {
  const data = Buffer.from(payload.padEnd(64, '\0'), 'latin1');
  const hdr = Buffer.alloc(24);
  hdr[0] = 0xe9;
  hdr[1] = 1;
  hdr[2] = 2;
  hdr[3] = 0x20;
  hdr.writeUInt32LE(0x40080400, 4);
  const seg = Buffer.alloc(8);
  seg.writeUInt32LE(0x3ffb0000, 0);
  seg.writeUInt32LE(data.length, 4);
  let body = Buffer.concat([hdr, seg, data]);
  const padLen = (15 - (body.length % 16) + 16) % 16;
  body = Buffer.concat([body, Buffer.alloc(padLen)]);
  let c = 0xef;
  for (const b of data) c ^= b;
  return Buffer.concat([body, Buffer.from([c])]);
}

class Flash {
  readonly bytes = Buffer.alloc(FLASH, 0xff);
  write(at: number, data: Uint8Array): void {
    this.bytes.set(data, at);
  }
  read = (o: number, n: number): Uint8Array => this.bytes.subarray(o, o + n);
}

const flashKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 5 + 3) & 0xff);
const signing = generateSigningKey();
const sbKey = digestPrivateKey(signing, 256);
const otherSbKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 11 + 1) & 0xff);

function securedEfuses(): EfuseWords {
  let w = emptyWords();
  w[1] = keyFileToReadWords(flashKey, { reverse: true, coding: 'none' });
  w[2] = keyFileToReadWords(sbKey, { reverse: true, coding: 'none' });
  w = withField(w, field('RD_DIS'), 0b11);
  w = withField(w, field('WR_DIS'), (1 << 7) | (1 << 8));
  w = withField(w, field('FLASH_CRYPT_CNT'), 1);
  w = withField(w, field('FLASH_CRYPT_CONFIG'), 0xf);
  w = withField(w, field('ABS_DONE_0'), 1);
  return w;
}

const BOOTLOADER = image('Checking secure boot... Checking flash encryption...');
const APP = signData(image('MicroPython app'), signing);
const TABLE = Buffer.from(signData(writePartitionTable([{ label: 'factory', type: 0, subtype: 0, offset: 0x10000, size: 0x180000, encrypted: false }]), signing));

/** The Pycom secure set: digest+bootloader at 0x0, signed table, signed app; each encrypted for its address. */
function secureFlash(opts: { digestKey?: Uint8Array; appAddressForEncryption?: number } = {}): Flash {
  const f = new Flash();
  const enc = (d: Uint8Array, a: number) => encryptFlashData(d, { key: flashKey, address: a, flashCryptConf: 0xf });
  const digest = digestSecureBootloader(BOOTLOADER, opts.digestKey ?? sbKey, new Uint8Array(128).fill(7)).output;
  f.write(0, enc(digest, 0));
  f.write(0x8000, enc(TABLE, 0x8000));
  f.write(0x10000, enc(APP, opts.appAddressForEncryption ?? 0x10000));
  return f;
}

function predict(words: EfuseWords, flash: Flash, revision = 1): BootVerdict {
  return predictBoot({ efuse: bootEfusesFromRaw(words, revision), readFlash: flash.read, flashSize: FLASH, signingPublicKey: signing.publicKey });
}

describe('boot prediction', () => {
  it('fresh board with erased flash: "flash read err, 1000" (rev1) / "invalid header" (rev3), reset loop', () => {
    const v = predict(emptyWords(), new Flash());
    assert.equal(v.boots, false);
    assert.equal(v.outcome, 'no-bootloader');
    assert.deepEqual(v.log, ['flash read err, 1000', 'ets_main.c 371 ']);
    assert.ok(v.resetLoop);
    assert.match(v.reason, /erased/);
    const v3 = predict(emptyWords(), new Flash(), 3);
    assert.equal(v3.log[0], 'invalid header: 0xffffffff');
  });

  it('fresh board with a plaintext bootloader: boots, but warns the bootloader would generate unknown keys', () => {
    const f = new Flash();
    f.write(0x1000, BOOTLOADER);
    f.write(0x8000, TABLE);
    f.write(0x10000, APP);
    const v = predict(emptyWords(), f);
    assert.equal(v.outcome, 'first-boot-provisioning');
    assert.match(v.reason, /nobody will ever know/);
    assert.ok(v.log.includes('I (0) flash_encrypt: Generating new flash encryption key...'));
  });

  it('keys burned but plaintext flash: the ROM decrypts garbage and cannot find the bootloader', () => {
    const f = new Flash();
    f.write(0x1000, BOOTLOADER);
    const v = predict(securedEfuses(), f);
    assert.equal(v.outcome, 'no-bootloader');
    assert.equal(v.log[0], 'flash read err, 1000');
    assert.match(v.reason, /flash encryption is on/);
  });

  it('app encrypted for another address: the bootloader finds no bootable app', () => {
    const v = predict(securedEfuses(), secureFlash({ appAddressForEncryption: 0x1a0000 }));
    assert.equal(v.boots, false);
    assert.equal(v.outcome, 'no-app');
    assert.match(v.reason, /encrypted for exactly this address/);
    assert.ok(v.log.some((l) => l.startsWith('load:0x3ffb0000')), 'the ROM part ran');
  });

  it('an app with one sector overwritten (it still starts as an image): corrupt, and no hint about the address', () => {
    const f = secureFlash();
    // 32 bytes inside the app replaced by other ciphertext: the header decrypts, the checksum does not hold.
    f.write(0x10000 + 0x40, encryptFlashData(Uint8Array.from({ length: 32 }, (_, i) => i + 1), { key: flashKey, address: 0x10000 + 0x40, flashCryptConf: 0xf }));
    const v = predict(securedEfuses(), f);
    assert.equal(v.outcome, 'no-app');
    assert.match(v.reason, /the image is corrupt \(checksum or hash\) \(some of its bytes are not the ones the image was built with: a damaged or partly overwritten region\)/);
    assert.doesNotMatch(v.reason, /encrypted for exactly this address/);
  });

  it('bootloader digest made with another key: "secure boot check fail"', () => {
    const v = predict(securedEfuses(), secureFlash({ digestKey: otherSbKey }));
    assert.equal(v.outcome, 'secure-boot-check-fail');
    assert.deepEqual(v.log, ['secure boot check fail']);
  });

  it('an app signed with another key is refused by the bootloader', () => {
    const f = secureFlash();
    const bad = signData(image('MicroPython app'), generateSigningKey());
    f.write(0x10000, encryptFlashData(bad, { key: flashKey, address: 0x10000, flashCryptConf: 0xf }));
    const v = predict(securedEfuses(), f);
    assert.equal(v.outcome, 'no-app');
    assert.match(v.reason, /signature verification failed/);
  });

  it('the correct full secure set boots and reports the plaintext flashes left', () => {
    const v = predict(securedEfuses(), secureFlash());
    assert.equal(v.boots, true, v.reason);
    assert.equal(v.outcome, 'app-running');
    assert.ok(v.log.includes('I (0) flash_encrypt: flash encryption is enabled (3 plaintext flashes left)'));
    assert.ok(v.hazards.some((h) => /DISABLE_DL_DECRYPT/.test(h)));
    assert.ok(v.hazards.some((h) => /JTAG/.test(h)));
  });
});
