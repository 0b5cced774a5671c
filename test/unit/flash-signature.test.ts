import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import type { SimServer } from '../../src/core/virtual/tcp-server';
import { writeSecureBuildDir } from '../../src/core/secure-build/process';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { fingerprint } from '../../src/core/util/fingerprint';
import { signingPublicKey } from '../../src/core/keys/signer';
import { fixtureApp, fixtureBootloader, fixtureKeys, FIXTURE_IV } from '../../scripts/make-fixture-firmware';
import { fixtureStore, flashMd5, secureBuild, servedBurnedGpy, tmpDir } from './flash-harness';

/**
 * A new-user trial: a table and an app signed with another signing key (same flash key) were
 * flashed by address onto a board with secure boot on ("The board booted"), predict-boot said
 * WILL BOOT, and ota-image wrote an image the board would refuse. A secure boot v1 bootloader
 * verifies both signatures with the key built into it, the key store's.
 */
describe('with secure boot on, the table and the app must carry the key store\'s signature (served virtual GPy)', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  let port: string;
  const store = fixtureStore();
  const good = secureBuild('GPY');
  const keyFp = fingerprint(signingPublicKey(store.signingKeyPath));
  // The same flash key, another signing key: as `pycom-secure build --signing-key other.pem` makes it.
  const other = path.join(tmpDir('other-sig-'), 'build', 'GPY', 'release');
  {
    const k = fixtureKeys();
    const otherKey = generateSigningKey();
    writeSecureBuildDir(other, 'GPY', { bootloader: fixtureBootloader(), app: fixtureApp(24 * 1024, 'fixture-app'), iv: FIXTURE_IV }, { ...k, signingKey: otherKey, secureBootKey: digestPrivateKey(otherKey, 256) });
  }

  before(async () => {
    ({ dev, server, port } = await servedBurnedGpy(store, 'flash-signature'));
    const f = await cli(['flash', '--port', port, '--key-store', store.dir, '--build', good]);
    assert.equal(f.code, 0, f.err);
  });
  after(async () => {
    await server.close();
  });

  it('flash ADDR FILE of a table and an app signed with another key is refused before anything is written', async () => {
    const before = flashMd5(dev);
    const r = await cli(['flash', '--port', port, '--key-store', store.dir, '0x8000', path.join(other, 'lib/partitions_8MB.bin_enc'), '0x10000', path.join(other, 'gpy.bin_enc')]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, new RegExp(`partitions_8MB\\.bin_enc at 0x8000 \\(ciphertext, \\d+ bytes\\) is signed with another key than ${store.signingKeyPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(fingerprint ${keyFp}\\): with secure boot on, the bootloader stops with "Failed to verify partition table signature" and the board does not boot; build it again signed with that key \\(\`pycom-secure build --signing-key\` naming it\\)\\.`));
    assert.equal(flashMd5(dev), before);
  });

  it('the app alone, signed with another key: refused the same way, naming the bootloader\'s own words', async () => {
    const before = flashMd5(dev);
    const r = await cli(['flash', '--port', port, '--key-store', store.dir, '0x10000', path.join(other, 'gpy.bin_enc')]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /gpy\.bin_enc at 0x10000 \(ciphertext, \d+ bytes, into "factory" \(app\/factory partition, encrypted\)\) is signed with another key than .* "Secure boot signature verification failed" and the board does not boot/);
    assert.equal(flashMd5(dev), before);
  });

  it('predict-boot finds an app signed with another key on the board: it will not boot (Pycom\'s bootloader prints no secure boot strings)', async () => {
    // Put the other app where the good one is, as a flash with another tool would.
    const app = fs.readFileSync(path.join(other, 'gpy.bin_enc'));
    for (let a = 0x10000; a < 0x10000 + app.length; a += 0x1000) dev.flash.eraseSector(a);
    dev.flash.program(0x10000, app);
    const r = await cli(['predict-boot', '--port', port, '--key-store', store.dir]);
    assert.match(r.out, /WILL NOT BOOT\. The bootloader refuses the app: "Secure boot signature verification failed"/);
    assert.match(r.out, /E \(0\) secure_boot: Secure boot signature verification failed/);
    // Put the good app back: the board boots again.
    const goodApp = fs.readFileSync(path.join(good, 'gpy.bin_enc'));
    for (let a = 0x10000; a < 0x10000 + Math.max(app.length, goodApp.length); a += 0x1000) dev.flash.eraseSector(a);
    dev.flash.program(0x10000, goodApp);
    const ok = await cli(['predict-boot', '--port', port, '--key-store', store.dir]);
    assert.match(ok.out, /WILL BOOT/);
  });

  it('ota-image of an app signed with another key writes nothing', async () => {
    const out = path.join(tmpDir('ota-sig-'), 'ota.bin');
    const r = await cli(['ota-image', '--board', 'GPY', '--build', other, '--slot', '0x210000', '--output', out, '--key-store', store.dir, '--trust-key-store']);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, new RegExp(`The app in ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is signed with another key than .* \\(fingerprint ${keyFp}\\): a board with secure boot would refuse it after the update \\("Secure boot signature verification failed"\\), so no OTA image was written`));
    assert.equal(fs.existsSync(out), false);
    const okOut = path.join(tmpDir('ota-sig-'), 'ota.bin');
    const ok = await cli(['ota-image', '--board', 'GPY', '--build', good, '--slot', '0x210000', '--output', okOut, '--key-store', store.dir, '--trust-key-store']);
    assert.equal(ok.code, 0, ok.err);
    assert.ok(fs.existsSync(okOut));
  });
});
