import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot } from '../../src/core/boot/predict';
import { bootloaderVerificationKey, isP256Point, p256PointsIn } from '../../src/core/image/bootloader-key';
import { secureSet, type SecureKeys } from '../../src/core/secure-build/process';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { buildImage, FIXTURE_ESP32, FIXTURE_IV, fixtureApp, fixtureBootloader, fixtureBootloaderAround, prng } from '../../scripts/make-fixture-firmware';
import { burnKeys, KEYS, normalBootText, rawWrite } from './flash-harness';

const BANNER = /Pycom MicroPython /;
/** Byte strings as hex (Buffer and Uint8Array alike). Public keys only. */
const hexOf = (b: Uint8Array | undefined): string | undefined => b && Buffer.from(b).toString('hex');
const OTHER = generateSigningKey();
/** The fixture's flash and secure boot keys, another signing key: a set that passes the ROM's digest check. */
const OTHER_SIGNER: SecureKeys = { ...KEYS, signingKey: OTHER };

/** A bootloader image like the fixture's, with no key in it (what a hand-made test image may be). */
const keylessBootloader = (): Uint8Array =>
  buildImage(
    [
      { loadAddress: 0x3fff0018, data: prng('keyless/dram', 1028) },
      { loadAddress: 0x40078000, data: prng('keyless/iram', 4096) },
    ],
    { entry: 0x40080764, hashAppended: false },
  );

describe('the secure boot verification key linked into a bootloader (image/bootloader-key.ts)', () => {
  it('is found in the fixture bootloader, and is the key it was built with', () => {
    assert.equal(hexOf(bootloaderVerificationKey(fixtureBootloader())), hexOf(KEYS.signingKey.publicKey));
    assert.equal(hexOf(bootloaderVerificationKey(fixtureBootloader('another-seed', OTHER.publicKey))), hexOf(OTHER.publicKey));
  });

  it('is found in the bootloader the fixture build ships (decrypted from its reflashable digest image at 0x0)', () => {
    const enc = fs.readFileSync(path.join(FIXTURE_ESP32, 'prepared', 'bootloader-reflash-digest.bin_enc'));
    const plain = decryptFlashData(enc, { key: KEYS.flashKey, address: 0, flashCryptConf: 0xf });
    assert.equal(hexOf(bootloaderVerificationKey(plain.subarray(0x1000))), hexOf(KEYS.signingKey.publicKey));
    // The ciphertext itself holds no point: the key is only found after decryption.
    assert.equal(bootloaderVerificationKey(enc.subarray(0x1000)), undefined);
  });

  it('the sample firmware\'s parts around the key give a valid bootloader for any key', () => {
    const { head, tail } = fixtureBootloaderAround();
    const key = OTHER.publicKey;
    const joined = Buffer.concat([head, key, key, tail]);
    assert.equal(hexOf(joined), hexOf(fixtureBootloader(undefined, key)));
    assert.equal(hexOf(bootloaderVerificationKey(joined)), hexOf(key));
  });

  it('finds nothing in random data, in an app image, or in what is not an image', () => {
    assert.deepEqual(p256PointsIn(prng('random-data', 32 * 1024)), []);
    assert.equal(bootloaderVerificationKey(keylessBootloader()), undefined);
    assert.equal(bootloaderVerificationKey(fixtureApp(16 * 1024)), undefined);
    assert.equal(bootloaderVerificationKey(prng('not-an-image', 8192)), undefined);
    assert.equal(bootloaderVerificationKey(new Uint8Array(0)), undefined);
  });

  it('tells a point on P-256 from a window that is not one', () => {
    const pub = p256.getPublicKey(p256.utils.randomSecretKey(), false).subarray(1);
    const data = new Uint8Array(200).fill(0x5a);
    data.set(pub, 70);
    assert.equal(isP256Point(data, 70), true);
    assert.equal(isP256Point(data, 69), false);
    assert.equal(isP256Point(data, 180), false); // runs past the end
    const bent = data.slice();
    bent[70 + 63]! ^= 1; // y off by one bit
    assert.equal(isP256Point(bent, 70), false);
    assert.deepEqual(p256PointsIn(data).map(hexOf), [hexOf(pub)]);
  });

  it('two different points in one bootloader name no key (which one it checks with cannot be told)', () => {
    const dram = prng('two-keys/dram', 1024);
    dram.set(KEYS.signingKey.publicKey, 0x40);
    dram.set(OTHER.publicKey, 0x200);
    const bl = buildImage([{ loadAddress: 0x3fff0018, data: dram }], { entry: 0x40080764, hashAppended: false });
    assert.equal(bootloaderVerificationKey(bl), undefined);
  });
});

describe('a virtual board with secure boot on checks the table\'s and the app\'s signatures when it boots', () => {
  let dev: VirtualEsp32;
  const good = secureSet({ bootloader: fixtureBootloader(), iv: FIXTURE_IV, app: fixtureApp(24 * 1024) }, KEYS, []);
  const other = secureSet({ bootloader: fixtureBootloader(), iv: FIXTURE_IV, app: fixtureApp(24 * 1024) }, OTHER_SIGNER, []);

  beforeEach(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'virtual-boot-signature', bootPredictor: bootPredictorForVirtual });
    await burnKeys(dev); // the fixture keys, flash encryption and ABS_DONE_0
    rawWrite(dev, 0x0, good.digest);
    rawWrite(dev, 0x8000, good.partitionTable);
    rawWrite(dev, 0x10000, good.app);
  });

  it('with the table and the app signed by the bootloader\'s key it boots to the MicroPython banner', () => {
    const log = normalBootText(dev);
    assert.match(log, /I \(0\) boot: Verifying partition table signature\.\.\.\r\n/);
    assert.match(log, /I \(0\) esp_image: Verifying image signature\.\.\.\r\n/);
    assert.match(log, BANNER);
  });

  it('an app signed with another key, written past this tool\'s checks: the bootloader refuses it, no banner', () => {
    rawWrite(dev, 0x10000, other.app);
    const log = normalBootText(dev);
    assert.match(log, /E \(0\) secure_boot: Secure boot signature verification failed\r\n/);
    assert.doesNotMatch(log, BANNER);
    assert.doesNotMatch(log, /Loaded app from partition/);
    // The host's prediction for the same flash says the same.
    const v = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size });
    assert.equal(v.boots, false);
    assert.match(v.reason, /Secure boot signature verification failed/);
    // The right app back: it boots again.
    rawWrite(dev, 0x10000, good.app);
    assert.match(normalBootText(dev), BANNER);
  });

  it('a partition table signed with another key: the bootloader stops at the table, no banner', () => {
    rawWrite(dev, 0x8000, other.partitionTable);
    const log = normalBootText(dev);
    assert.match(log, /E \(0\) boot: Failed to verify partition table signature\.\r\nE \(0\) boot: load partition table error!\r\n/);
    assert.doesNotMatch(log, BANNER);
  });

  it('the key linked into the bootloader decides, not the key the host expects', () => {
    // A bootloader built with the other key (digested with the board's secure boot key), table and app signed with the store's.
    const otherBl = secureSet({ bootloader: fixtureBootloader(undefined, OTHER.publicKey), iv: FIXTURE_IV, app: fixtureApp(24 * 1024) }, KEYS, []);
    rawWrite(dev, 0x0, otherBl.digest);
    const log = normalBootText(dev);
    assert.match(log, /Failed to verify partition table signature/);
    assert.doesNotMatch(log, BANNER);
    const v = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size, signingPublicKey: KEYS.signingKey.publicKey });
    assert.equal(v.outcome, 'partition-table');
    assert.equal(v.boots, false);
  });

  it('a bootloader with no key in it: the virtual board says it cannot check and does not start the app', () => {
    const keyless = secureSet({ bootloader: keylessBootloader(), iv: FIXTURE_IV, app: fixtureApp(24 * 1024) }, KEYS, []);
    rawWrite(dev, 0x0, keyless.digest);
    const log = normalBootText(dev);
    assert.match(log, /\[virtual board\] no secure boot verification key \(a P-256 point\) found in the bootloader: signatures cannot be checked, the app is not started\r\n/);
    assert.doesNotMatch(log, BANNER);
    // predict-boot, given the store's key, checks with it instead (as before): the set is signed with it, so it boots.
    const efuse = bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision);
    const read = (o: number, n: number) => dev.flash.read(o, n);
    assert.equal(predictBoot({ efuse, readFlash: read, flashSize: dev.flash.size, signingPublicKey: KEYS.signingKey.publicKey }).boots, true);
    const strict = predictBoot({ efuse, readFlash: read, flashSize: dev.flash.size, requireVerificationKey: true });
    assert.equal(strict.boots, false);
    assert.match(strict.reason, /^The virtual board does not start the app: secure boot is on and its bootloader holds no verification key/);
  });
});
