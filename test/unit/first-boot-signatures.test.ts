import { strict as assert } from 'node:assert';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot, type BootVerdict } from '../../src/core/boot/predict';
import { secureSet, type SecureKeys } from '../../src/core/secure-build/process';
import { digestSecureBootloader } from '../../src/core/crypto/bootloader-digest';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { field, withField } from '../../src/core/efuse/fields';
import { FIXTURE_IV, fixtureApp, fixtureBootloader } from '../../scripts/make-fixture-firmware';
import { KEYS, normalBootText, rawWrite, bootNow } from './flash-harness';

/**
 * A secure bootloader's own first boot (no keys, ABS_DONE_0 off): Pycom's bootloader checks no
 * signature until it has burned ABS_DONE_0 (pycom-esp-idf esp_image_format.c, Pycom's
 * bootloader.c), burns its keys after loading the app whatever that gave, and checks both
 * signatures on every boot after. The prediction and the virtual board must agree on it.
 */
const BANNER = /Pycom MicroPython /;
const OTHER_SIGNER: SecureKeys = { ...KEYS, signingKey: generateSigningKey() };
const APP_SIZE = 24 * 1024;
const good = secureSet({ bootloader: fixtureBootloader(), iv: FIXTURE_IV, app: fixtureApp(APP_SIZE) }, KEYS, []);
const other = secureSet({ bootloader: fixtureBootloader(), iv: FIXTURE_IV, app: fixtureApp(APP_SIZE) }, OTHER_SIGNER, []);
/** The plaintext reflashable digest image (IV, digest, bootloader at 0x1000), as on a board with no keys. */
const plainDigest = digestSecureBootloader(fixtureBootloader(), KEYS.secureBootKey, FIXTURE_IV).output;

/** A fresh board (no keys) holding the plaintext set with `table` and `app`. */
function freshBoard(seed: string, table: Uint8Array, app: Uint8Array): VirtualEsp32 {
  const dev = new VirtualEsp32({ profile: 'GPY', seed, bootPredictor: bootPredictorForVirtual });
  rawWrite(dev, 0x0, plainDigest);
  rawWrite(dev, 0x8000, table);
  rawWrite(dev, 0x10000, app);
  return dev;
}

/** The eFuse end state every first boot of the secure bootloader leaves: both keys its own, read-protected, ABS_DONE_0, encryption on. */
function assertProvisioned(dev: VirtualEsp32): void {
  assert.notEqual(dev.efuse.rawField('BLOCK1'), 0n);
  assert.notEqual(dev.efuse.rawField('BLOCK2'), 0n);
  assert.equal(dev.efuse.rawField('RD_DIS') & 0b11n, 0b11n);
  assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
  assert.equal(dev.efuse.rawField('FLASH_CRYPT_CNT'), 1n);
}

describe("a secure bootloader's first boot (no keys, ABS_DONE_0 off): signatures checked from the next boot on", () => {
  it('table and app signed with the key linked into the bootloader: predicted to provision and boot, and the virtual board does', () => {
    const dev = freshBoard('first-boot-sig-good', good.signedPartitionTable, good.signedApp);
    const v = bootNow(dev);
    assert.equal(v.outcome, 'first-boot-provisioning', v.reason);
    assert.equal(v.boots, true);
    assert.doesNotMatch(v.log.join('\n'), /Verifying (image|partition table) signature/); // not on this boot
    const log = normalBootText(dev);
    assertProvisioned(dev);
    assert.match(log, /Encrypting partition \d+ at offset 0x10000\.\.\./);
    assert.match(log, /rst:0x3 \(SW_RESET\)[^]*Verifying partition table signature\.\.\.[^]*Verifying image signature\.\.\.[^]*Loaded app from partition at offset 0x10000/);
    assert.match(log, BANNER);
  });

  for (const [name, app] of [
    ['an app signed with another key', other.signedApp],
    ['an unsigned app', fixtureApp(APP_SIZE)],
  ] as const) {
    it(`${name}: predicted "does not boot" after burning the keys; the virtual board burns them, leaves the app plaintext and never starts it`, () => {
      const dev = freshBoard(`first-boot-sig-${name}`, good.signedPartitionTable, app);
      const v = bootNow(dev);
      assert.equal(v.boots, false, v.reason);
      assert.equal(v.outcome, 'first-boot-provisioning');
      assert.deepEqual(v.firstBoot, { secureBootKey: true, flashEncryptionKey: true, appStarts: true });
      assert.match(v.reason, /^On this first boot, which checks no signature yet, the bootloader will generate its own secure boot key \(BLOCK2\) and flash-encryption key \(BLOCK1\) on the chip and read-protect them, and burn ABS_DONE_0, and reset at once; then every boot stops with "Secure boot signature verification failed": the app is not signed with the key linked into the bootloader/);
      assert.match(v.log.join('\n'), /Generating new secure boot key/);
      assert.doesNotMatch(v.log.join('\n'), /Secure boot signature verification failed/); // this boot does not check it
      const log = normalBootText(dev);
      // Burned before the app's signature was ever checked.
      assertProvisioned(dev);
      // The encryption pass runs with ABS_DONE_0 just burned, so it refuses to encrypt the app.
      assert.doesNotMatch(log, /Encrypting partition \d+ at offset 0x10000/);
      assert.equal(Buffer.from(dev.flash.read(0x10000, 64)).toString('hex'), Buffer.from(app.subarray(0, 64)).toString('hex'));
      assert.match(log, /rst:0x3 \(SW_RESET\)[^]*Verifying partition table signature\.\.\.[^]*No bootable app partitions/);
      assert.doesNotMatch(log, BANNER);
      // Every boot after: the same stop, nothing more burned; the prediction for the board as it is now agrees.
      const words = JSON.stringify(dev.efuse.rawWords());
      assert.doesNotMatch(normalBootText(dev), BANNER);
      assert.equal(JSON.stringify(dev.efuse.rawWords()), words);
      const after = bootNowWithOwnKeys(dev);
      assert.equal(after.boots, false);
      assert.equal(after.outcome, 'no-app');
    });
  }

  it('a partition table signed with another key: predicted to stop at the table after burning; the virtual board does', () => {
    const dev = freshBoard('first-boot-sig-table', other.signedPartitionTable, good.signedApp);
    const v = bootNow(dev);
    assert.equal(v.boots, false, v.reason);
    assert.match(v.reason, /then every boot stops with "Failed to verify partition table signature\.": the partition table is not signed with the key linked into the bootloader/);
    const log = normalBootText(dev);
    assertProvisioned(dev);
    assert.match(log, /rst:0x3 \(SW_RESET\)[^]*E \(0\) boot: Failed to verify partition table signature\.\r\n/);
    assert.doesNotMatch(log, BANNER);
  });

  it('a corrupt app: the bootloader still burns its keys (Pycom ignores the failed app load), predicted and virtual alike', () => {
    const bad = good.signedApp.slice();
    bad[0x2000]! ^= 0xff;
    const dev = freshBoard('first-boot-corrupt-app', good.signedPartitionTable, bad);
    const v = bootNow(dev);
    assert.equal(v.boots, false);
    assert.equal(v.outcome, 'no-app');
    assert.deepEqual(v.firstBoot, { secureBootKey: true, flashEncryptionKey: true, appStarts: false });
    assert.match(v.reason, /^The bootloader finds no bootable app: at 0x00010000 the image is corrupt[^]*Before it stops, the bootloader goes on to generate its own secure boot key \(BLOCK2\) and flash-encryption key \(BLOCK1\)/);
    const log = normalBootText(dev);
    assertProvisioned(dev);
    assert.match(log, /esp_image: the image is corrupt[^]*Generating new secure boot key/);
    assert.doesNotMatch(log, BANNER);
  });

  it('secure boot only (flash encryption already on, BLOCK2 empty), app signed with another key: it runs this once, then never again', () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'first-boot-sb-only', bootPredictor: bootPredictorForVirtual });
    let w = dev.efuse.rawWords();
    w[1] = keyFileToBlockWords(KEYS.flashKey, { reverse: true, coding: 'none' });
    w = withField(w, field('FLASH_CRYPT_CNT'), 1n);
    w = withField(w, field('FLASH_CRYPT_CONFIG'), 0xfn);
    w = withField(w, field('RD_DIS'), 1n);
    w = withField(w, field('WR_DIS'), 1n << 7n);
    dev.efuse.setRaw(w);
    rawWrite(dev, 0x0, good.digest);
    rawWrite(dev, 0x8000, good.partitionTable);
    rawWrite(dev, 0x10000, other.app);
    const v = bootNow(dev);
    assert.equal(v.boots, false, v.reason);
    assert.deepEqual(v.firstBoot, { secureBootKey: true, flashEncryptionKey: false, appStarts: true });
    assert.match(v.reason, /the bootloader will generate its own secure boot key \(BLOCK2\) on the chip and read-protect it, and burn ABS_DONE_0, and start the app this once; then every boot stops with "Secure boot signature verification failed"/);
    const first = normalBootText(dev);
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
    assert.notEqual(dev.efuse.rawField('BLOCK2'), 0n);
    assert.match(first, /secure boot is now enabled for bootloader image/);
    assert.match(first, BANNER);
    const second = normalBootText(dev);
    assert.match(second, /E \(0\) secure_boot: Secure boot signature verification failed\r\n/);
    assert.doesNotMatch(second, BANNER);
  });
});

/** The prediction for a board whose keys the bootloader made itself: the raw eFuse bits hold them (the virtual board's physical view). */
function bootNowWithOwnKeys(dev: VirtualEsp32): BootVerdict {
  return predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size });
}
