import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromPairs } from '../../src/core/flash/plan';
import { checkPlan } from '../../src/core/flash/checks';
import { diagnoseDecryption, diagnoseDifference, diagnoseDigest, knownFlashAddresses } from '../../src/core/flash/diagnose';
import { keysForBoard, runFlashSession } from '../../src/core/flash/session';
import { encryptFor } from '../../src/core/secure-build/process';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { digestSecureBootloader } from '../../src/core/crypto/bootloader-digest';
import { fingerprint } from '../../src/core/util/fingerprint';
import { fixtureApp, fixtureBootloader, FIXTURE_IV } from '../../scripts/make-fixture-firmware';
import { hex } from '../../src/core/util/hex';
import { boardPlanFromBuild, storeBuildKey } from '../../src/core/secure-build/per-device';
import { provision } from '../../src/core/workflows/provision';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import type { Transport } from '../../src/core/transport/transport';
import { KEYS, fixtureStore, flashMd5, secureBuild, tmpDir, virtualBoard } from './flash-harness';

/**
 * Issue 12 item 4: a failed decryption or digest check tests each cause the product has data for
 * and names the one that holds (one test per cause); the generic list only when none holds.
 */
function file(data: Uint8Array, name = 'x.bin'): string {
  const p = path.join(tmpDir('diag-'), name);
  fs.writeFileSync(p, data);
  return p;
}

describe('diagnoses test each cause and name the one that holds', function () {
  this.timeout(120000);
  const build = secureBuild('GPY');
  const outputs = findBuildOutputs(build, { flashKey: KEYS.flashKey });
  const byRole = (role: string) => outputs.outputs.find((o) => o.role === role)!.path;
  const chip = { flashEncryption: true, secureBoot: false, flashCryptConf: 0xf, flashSize: 0x800000 };

  it('the addresses tried come from the flash map and the board catalog (factory, ota_0 of each layout, the rc OTA copy)', () => {
    const a = knownFlashAddresses();
    for (const x of [0x0, 0x1000, 0x8000, 0x10000, 0x1a0000, 0x1c0000, 0x210000]) assert.ok(a.includes(x), x.toString(16));
  });

  it('wrong address: a bootloader encrypted for 0x1000 written at 0x10000 is named as such', async () => {
    const plan = planFromPairs([{ address: 0x10000, file: file(encryptFor(fixtureBootloader(), 0x1000, KEYS.flashKey)) }]);
    await assert.rejects(checkPlan(plan, { chip, flashKey: KEYS.flashKey }), /was encrypted for address 0x1000, not 0x10000/);
  });

  it('wrong address: an app encrypted for a catalog OTA slot (0x1C0000) written at 0x10000 is named as such', async () => {
    const plain = decryptedApp(fs.readFileSync(byRole('app')));
    const plan = planFromPairs([{ address: 0x10000, file: file(encryptFor(plain, 0x1c0000, KEYS.flashKey)) }]);
    await assert.rejects(checkPlan(plan, { chip, flashKey: KEYS.flashKey }), /was encrypted for address 0x1C0000, not 0x10000/);
  });

  it('wrong key: per-device key for the board, the file made with the store\'s shared key; the shared key is named, nothing written', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'diag-key' });
    try {
      const store = fixtureStore();
      // The board's own key (per-device) differs from the shared key the build was made with.
      const per = store.deviceFlashKeyPath(b.info.mac.address);
      fs.mkdirSync(path.dirname(per), { recursive: true });
      fs.writeFileSync(per, new Uint8Array(32).fill(0x42));
      const before = flashMd5(b.dev);
      const plan = planFromPairs([{ address: 0x10000, file: byRole('app') }]);
      await assert.rejects(runFlashSession({ io: b.io, info: b.info, plan, store, keys: keysForBoard(store, b.info) }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_DECRYPT');
        assert.match(e.message, new RegExp(`was encrypted with the key in .*flash_encryption_key\\.bin \\(fingerprint ${fingerprint(KEYS.flashKey)}\\), not with this board's flash key .*devices.*\\(fingerprint ${fingerprint(new Uint8Array(32).fill(0x42))}\\)`));
        return true;
      });
      assert.equal(flashMd5(b.dev), before);
    } finally {
      b.close();
    }
  });

  it('other FLASH_CRYPT_CONFIG: a table encrypted with CONFIG 0x3 for a chip with 0xF is named as such', async () => {
    const table = decrypted(fs.readFileSync(byRole('partition-table')), 0x8000);
    const plan = planFromPairs([{ address: 0x8000, file: file(encryptFor(table, 0x8000, KEYS.flashKey, 0x3)) }]);
    await assert.rejects(checkPlan(plan, { chip, flashKey: KEYS.flashKey }), /was encrypted with FLASH_CRYPT_CONFIG 0x3, but this chip's is 0xF.*--flash-crypt-conf 0xF/);
  });

  it('key and address both other: named together', () => {
    const plain = decryptedApp(fs.readFileSync(byRole('app')));
    const other = new Uint8Array(32).fill(0x21);
    const d = diagnoseDecryption({
      data: encryptFor(plain, 0x210000, other), address: 0x10000, want: 'image', role: 'app', region: 'app.bin', conf: 0xf,
      key: { label: 'the board key', key: KEYS.flashKey }, otherKeys: [{ label: 'the old key', key: other }],
    });
    assert.equal(d.cause, 'key+address');
    assert.equal(d.address, 0x210000);
    assert.match(d.message, /encrypted with the old key .* for address 0x210000/);
  });

  it('a damaged file (one byte changed after the build): its header decrypts with the right key and address, so it is named damaged, not another key', async () => {
    const data = new Uint8Array(fs.readFileSync(byRole('app')));
    data[data.length >> 1] ^= 0x01;
    const d = diagnoseDecryption({
      data, address: 0x10000, want: 'image', role: 'app', region: 'gpy.bin_enc', conf: 0xf,
      key: { label: 'the board key', key: KEYS.flashKey }, otherKeys: [{ label: 'the old key', key: new Uint8Array(32).fill(0x21) }],
    });
    assert.equal(d.cause, 'damaged');
    assert.equal(d.message, `gpy.bin_enc is damaged: with the flash key ${fingerprint(KEYS.flashKey)} at 0x10000 its start decrypts to an ESP32 app image, but the rest does not check out (its checksum does not match), so bytes changed after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`);
    const plan = planFromPairs([{ address: 0x10000, file: file(data, 'gpy.bin_enc') }]);
    await assert.rejects(checkPlan(plan, { chip, flashKey: KEYS.flashKey }), /is damaged: .* bytes changed after the build/);
  });

  describe('a damaged build file is named damaged whichever key the board has (shared, or its own in devices/<MAC>/)', () => {
    /** A copy of the build with its app damaged by `damage`; the app's file name. */
    const damagedBuild = (damage: (d: Uint8Array) => Uint8Array): string => {
      const dir = path.join(tmpDir('damaged-'), 'build', 'GPY', 'release');
      fs.cpSync(build, dir, { recursive: true });
      const app = path.join(dir, path.relative(build, byRole('app')));
      fs.writeFileSync(app, damage(new Uint8Array(fs.readFileSync(app))));
      return dir;
    };
    const flipped = (d: Uint8Array): Uint8Array => {
      d[d.length >> 1] ^= 0x01;
      return d;
    };
    const cutOff = (d: Uint8Array): Uint8Array => d.subarray(0, d.length - 13);
    const size = fs.statSync(byRole('app')).size;
    const cases: Array<[string, (d: Uint8Array) => Uint8Array, string]> = [
      ['one byte changed', flipped, `gpy.bin_enc at 0x10000 (ciphertext, ${size} bytes) is damaged: with the flash key ${fingerprint(KEYS.flashKey)} at 0x10000 its start decrypts to an ESP32 app image, but the rest does not check out (its checksum does not match), so bytes changed after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`],
      ['cut off (not whole 16-byte blocks)', cutOff, `gpy.bin_enc at 0x10000 (ciphertext, ${size - 13} bytes) is damaged: it is not a whole number of 16-byte blocks, as every flash-encryption output is, so bytes were lost after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`],
    ];
    for (const [what, damage, sentence] of cases) {
      for (const own of [false, true]) {
        it(`${what}, on a board with ${own ? 'its own key' : 'the shared key'}: the same sentence, nothing written`, async () => {
          const b = await virtualBoard('GPY', { burn: true, seed: `damaged-${own}` });
          try {
            const store = fixtureStore();
            if (own) store.saveDeviceFlashKey(b.info.mac.address, new Uint8Array(32).fill(0x42));
            const keys = keysForBoard(store, b.info);
            const before = flashMd5(b.dev);
            // As flash --build makes the plan: the board's key, re-encrypting from the store's build key.
            await assert.rejects(async () => {
              const { plan } = boardPlanFromBuild(damagedBuild(damage), { flashKey: keys.flashKey!, buildKey: storeBuildKey(store)!, flashSize: 0x800000 });
              await runFlashSession({ io: b.io, info: b.info, plan, store, keys });
            }, (e: Error & { code?: string }) => {
              assert.equal(e.code, 'E_PLAN_DECRYPT');
              assert.equal(e.message, sentence);
              return true;
            });
            assert.equal(flashMd5(b.dev), before);
          } finally {
            b.close();
          }
        });
      }
      it(`${what}: provision names it damaged before any board is opened`, async () => {
        const store = fixtureStore();
        await assert.rejects(
          provision({ ports: [{ port: '/dev/pycom-none', reset: 'none', baud: 115200, transport: unopenable() }], store, buildDir: damagedBuild(damage), board: 'GPY', perDeviceKeys: true, hardening: false, approvedMacs: ['24:0a:c4:00:00:01'], bootLog: false }, scriptedUi()),
          (e: Error & { code?: string }) => {
            assert.equal(e.code, 'E_PLAN_DECRYPT');
            assert.equal(e.message, sentence);
            return true;
          },
        );
        assert.equal(fs.existsSync(path.join(store.dir, 'devices')), false, 'no board key made');
      });
    }
  });

  it('an empty file in a build is called empty, not a file encrypted with another key', async () => {
    const dir = path.join(tmpDir('empty-out-'), 'release');
    fs.cpSync(build, dir, { recursive: true });
    const boot = findBuildOutputs(dir, { flashKey: KEYS.flashKey }).outputs.find((o) => o.role === 'bootloader-digest')!.path;
    fs.writeFileSync(boot, '');
    const plan = planFromPairs([{ address: 0x8000, file: byRole('partition-table') }]);
    plan.regions.unshift({ ...plan.regions[0]!, address: 0, file: boot, data: new Uint8Array(0), role: 'bootloader-digest', encrypted: true });
    await assert.rejects(checkPlan(plan, { chip, flashKey: KEYS.flashKey }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_PLAN_EMPTY');
      assert.match(e.message, /is an empty file \(0 bytes\): nothing of it was written by the build .*build again, or copy the file again from the build\./);
      assert.doesNotMatch(e.message, /key/);
      return true;
    });
  });

  it('digest made with another key of the store: that key is named; with none, the sentence says none can be tested', () => {
    const sbOther = new Uint8Array(32).fill(3);
    const digest = digestSecureBootloader(fixtureBootloader(), sbOther, FIXTURE_IV).output;
    const named = diagnoseDigest(digest, { label: 'the store\'s key', key: KEYS.secureBootKey }, [{ label: 'the key in BLOCK2 (readable)', key: sbOther }], 'digest.bin');
    assert.match(named, new RegExp(`digested with the key in BLOCK2 \\(readable\\) \\(fingerprint ${fingerprint(sbOther)}\\)`));
    const none = diagnoseDigest(digest, { label: 'the store\'s key', key: KEYS.secureBootKey }, [], 'digest.bin');
    assert.match(none, /no other key can be tested/);
    assert.match(none, /secure boot check fail/);
  });

  describe('verify-flash: why a region reads back different is tested, one test per cause', () => {
    const table = () => decrypted(fs.readFileSync(byRole('partition-table')), 0x8000).subarray(0, 0x400);
    const expected = () => encryptFor(table(), 0x8000, KEYS.flashKey);
    const base = { address: 0x8000, encrypted: true, conf: 0xf, key: { label: 'the store key', key: KEYS.flashKey } };
    it('erased', () => {
      assert.match(diagnoseDifference({ ...base, board: new Uint8Array(0x400).fill(0xff), expected: expected() }), /is erased/);
    });
    it('the plaintext written on a board that encrypts', () => {
      assert.match(diagnoseDifference({ ...base, board: table(), expected: expected() }), /holds this file's plaintext/);
    });
    it('the same content with the store\'s other key', () => {
      const other = new Uint8Array(32).fill(0x31);
      assert.match(diagnoseDifference({ ...base, board: encryptFor(table(), 0x8000, other), expected: expected(), otherKeys: [{ label: 'the shared key', key: other }] }), new RegExp(`encrypted with the shared key \\(fingerprint ${fingerprint(other)}\\)`));
    });
    it('the same content for another address', () => {
      assert.match(diagnoseDifference({ ...base, board: encryptFor(table(), 0x10000, KEYS.flashKey), expected: expected() }), /encrypted for address 0x10000/);
    });
    it('the same content with another FLASH_CRYPT_CONFIG', () => {
      assert.match(diagnoseDifference({ ...base, board: encryptFor(table(), 0x8000, KEYS.flashKey, 0x5), expected: expected() }), /FLASH_CRYPT_CONFIG 0x5, not 0xF/);
    });
    it('none holds: says so, and no longer blames another build without evidence', () => {
      const m = diagnoseDifference({ ...base, board: encryptFor(new Uint8Array(0x400).fill(7), 0x8000, KEYS.flashKey), expected: expected() });
      assert.match(m, /^the flash at 0x8000 does not hold this file as encrypted for 0x8000 \(a flash-encryption ciphertext depends on its address\), and none of the testable causes holds/);
      assert.doesNotMatch(m, /another build/);
    });

    // A third new-user trial: the app encrypted for 0x210000 (an OTA copy) verified at 0x10000, or
    // the app encrypted for 0x10000 verified at ota_0 (0x210000), was blamed on "another build".
    describe('a file encrypted for another address than the one verified', () => {
      const app = fixtureApp(0x3000, 'diag-app');
      const key = { label: 'the store key', key: KEYS.flashKey };
      // verify-flash's inputs for FILE at ADDR against a flash holding BOARD at ADDR (the first differing 4 KB).
      const at = (address: number, fileBytes: Uint8Array, boardBytes: Uint8Array) => diagnoseDifference({
        address, encrypted: true, conf: 0xf, key, board: boardBytes.subarray(0, 0x1000), expected: fileBytes.subarray(0, 0x1000),
        file: { data: fileBytes, offset: 0 }, boardHead: boardBytes.subarray(0, 64),
      });
      it('the flash holds the same app encrypted for where it is: the file is named as made for its own address', () => {
        for (const [file, region] of [[0x210000, 0x10000], [0x10000, 0x210000]] as const) {
          const m = at(region, encryptFor(app, file, KEYS.flashKey), encryptFor(app, region, KEYS.flashKey));
          assert.equal(m, `the flash at ${hex(region)} does not hold this file as encrypted for ${hex(region)} (a flash-encryption ciphertext depends on its address): the file is encrypted for address ${hex(file)} (decrypted for ${hex(file)} it matches what the flash at ${hex(region)} decrypts to, on the range compared), so the board holds this content, encrypted for where it is; to check this region give the file made for ${hex(region)} (this one is for ${hex(file)}).`);
        }
      });
      it('the flash holds another app: the file looks encrypted for its own address, and the flash\'s header is said as read', () => {
        const other = fixtureApp(0x3000, 'diag-other-app');
        const m = at(0x210000, encryptFor(app, 0x10000, KEYS.flashKey), encryptFor(other, 0x210000, KEYS.flashKey));
        assert.equal(m, 'the flash at 0x210000 does not hold this file as encrypted for 0x210000 (a flash-encryption ciphertext depends on its address): the file looks encrypted for address 0x10000 (decrypted for 0x10000 it is an ESP32 app image, for 0x210000 it is not), and the flash at 0x210000 decrypts to an ESP32 app image header (judged by its header); to check this region give the file made for 0x210000 (this one is for 0x10000).');
        assert.doesNotMatch(m, /another build/);
      });
      it('a file meant for another region (the partition table at an app address)', () => {
        const tableFile = encryptFor(table(), 0x8000, KEYS.flashKey);
        const m = at(0x10000, tableFile, encryptFor(app, 0x10000, KEYS.flashKey));
        assert.match(m, /: the file looks encrypted for address 0x8000 \(decrypted for 0x8000 it is a partition table, for 0x10000 it is not\), and the flash at 0x10000 decrypts to an ESP32 app image header \(judged by its header\);/);
      });
      it('the file is right for this address and the flash holds another app: both said, as tested', () => {
        const other = fixtureApp(0x3000, 'diag-other-app');
        const m = at(0x10000, encryptFor(app, 0x10000, KEYS.flashKey), encryptFor(other, 0x10000, KEYS.flashKey));
        assert.match(m, /none of the testable causes holds .*: the file decrypts for 0x10000 to an ESP32 app image as it should and the flash at 0x10000 decrypts to an ESP32 app image header \(judged by its header\), so the flash holds other content there/);
      });
      it('a file that decrypts to nothing valid anywhere: said, with the addresses tried', () => {
        const junk = encryptFor(new Uint8Array(0x1000).fill(9), 0x10000, KEYS.flashKey);
        const m = at(0x10000, junk, encryptFor(app, 0x10000, KEYS.flashKey));
        assert.match(m, new RegExp(`with the key ${fingerprint(KEYS.flashKey)} the file decrypts to no valid image, digest image or partition table at 0x10000 nor at 0x0, 0x1000, 0x8000, `));
        assert.doesNotMatch(m, /looks encrypted for/);
      });
    });
  });
});

/** The plaintext of a build's _enc file (made with the fixture key for `address`, CONFIG 0xF). */
function decrypted(enc: Uint8Array, address: number): Uint8Array {
  return decryptFlashData(enc.subarray(0, enc.length - (enc.length % 16)), { key: KEYS.flashKey, address, flashCryptConf: 0xf });
}

/** A transport whose every use fails the test: the run must end before any board is opened. */
function unopenable(): Transport {
  return new Proxy({} as Transport, { get: (_t, name) => (name === 'then' ? undefined : () => assert.fail(`the port was used (${String(name)})`)) });
}

function decryptedApp(enc: Uint8Array): Uint8Array {
  return decrypted(enc, 0x10000);
}
