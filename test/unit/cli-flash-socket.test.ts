import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { KeyStore } from '../../src/core/keystore/key-store';
import { transportFromUrl } from '../../src/core/transport/open';
import { captureBootLog } from '../../src/core/boot/capture';
import { explainBootLog } from '../../src/core/boot/boot-log';
import { fixtureStore, flashMd5, secureBuild, tmpDir } from './flash-harness';


/**
 * Issue 5 acceptance at the CLI, over socket:// against a served virtual GPy (as a user would run
 * it against `sim serve`): burn the keys with the CLI, flash a fixture build, and the boot
 * prediction, the board's own boot log and `monitor` all say it boots; the same files at wrong
 * addresses are refused before a byte is written.
 */
describe('CLI: burn-keys, flash and predict-boot over socket:// on a served virtual GPy', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  let port: string;
  const store = fixtureStore();
  const dir = secureBuild('GPY');

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'cli-flash-socket', bootPredictor: bootPredictorForVirtual });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    port = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
  });

  it('burns the fixture keys through the CLI', async () => {
    const summary = JSON.parse((await cli(['efuse', 'summary', '--json', '--port', port])).out) as Record<string, { value: unknown }>;
    const mac = String(summary['MAC']!.value).split(' ')[0]!;
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir]);
    assert.equal(r.code, 0, r.err);
  });

  it('predict-boot before flashing: the erased flash does not boot', async () => {
    const r = await cli(['predict-boot', '--port', port, '--key-store', store.dir]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /WILL NOT BOOT/);
    assert.match(r.out, /flash read err, 1000|invalid header/);
  });

  it('predict-boot without the keys says what cannot be decided', async () => {
    const empty = new KeyStore(path.join(tmpDir('ks-empty-'), 'secure'));
    const r = await cli(['predict-boot', '--port', port, '--key-store', empty.dir, '--json']);
    assert.equal(r.code, 4, r.out + r.err);
    const j = JSON.parse(r.out) as { decided: boolean; undecidable: string[] };
    assert.equal(j.decided, false);
    assert.ok(j.undecidable.some((u) => /BLOCK1 is read-protected/.test(u) && /--flash-key/.test(u)));
    assert.ok(j.undecidable.some((u) => /BLOCK2 is read-protected/.test(u)));
  });

  it('the same files at wrong addresses are refused and the flash is untouched', async () => {
    const before = flashMd5(dev);
    const r = await cli([
      'flash', '--port', port, '--key-store', store.dir,
      '0x0', path.join(dir, 'bootloader/bootloader-reflash-digest.bin_enc'),
      '0x8000', path.join(dir, 'lib/partitions_8MB.bin_enc'),
      '0x210000', path.join(dir, 'gpy.bin_enc'),
    ]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /encrypted for address 0x10000, not 0x210000/);
    assert.equal(flashMd5(dev), before);
  });

  it('flash --dry-run on the board shows the plan it checked (file, role, address, size, key) and writes nothing', async () => {
    const before = flashMd5(dev);
    const r = await cli(['flash', '--port', port, '--key-store', store.dir, '--dry-run', '--build', dir]);
    assert.equal(r.code, 0, r.out + r.err);
    // The key is named once, by the evidence line (flash-encryption key FP in BLOCK1).
    const fp = /flash-encryption key ([0-9a-f]{16})/.exec(r.err)?.[1];
    assert.ok(fp, r.err);
    assert.match(r.out, new RegExp(`bootloader-reflash-digest\\.bin_enc at 0x0 \\(ciphertext, \\d+ bytes\\), encrypted for the key ${fp}: would be written and verified`));
    assert.match(r.out, /gpy\.bin_enc at 0x10000 \(ciphertext, \d+ bytes, into "factory" \(app\/factory partition, encrypted\)\)/);
    assert.match(r.out, /Dry run: every check passed; nothing was written\./);
    assert.equal(flashMd5(dev), before);
  });

  it('predict-boot --build says beforehand that the build will boot on this board', async () => {
    const r = await cli(['predict-boot', '--port', port, '--build', dir, '--key-store', store.dir]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /after flashing release: WILL BOOT/);
  });

  it('flash --build writes the set, and the board boots it', async () => {
    const r = await cli(['flash', '--port', port, '--build', dir, '--key-store', store.dir, '--boot-log-ms', '500']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /gpy\.bin_enc @ 0x10000: \d+ of \d+ bytes written, verified \(MD5\)/);
    // The boot log captured after writing is the board's own (the virtual ESP32 prints the predicted one).
    assert.match(r.out, /Loaded app from partition at offset 0x10000/);
    assert.doesNotMatch(r.out, /flash read err/);
  });

  it('predict-boot on the flashed board: success, and key bytes never appear', async () => {
    const r = await cli(['predict-boot', '--port', port, '--key-store', store.dir, '--json']);
    assert.equal(r.code, 0, r.out + r.err);
    const j = JSON.parse(r.out) as { decided: boolean; boots: boolean; outcome: string; assumptions: string[] };
    assert.equal(j.decided, true);
    assert.equal(j.boots, true);
    assert.equal(j.outcome, 'app-running');
    assert.ok(j.assumptions.some((a) => /BLOCK1 is read-protected/.test(a)));
    const keyHex = fs.readFileSync(store.sharedFlashKeyPath).toString('hex');
    assert.ok(!r.out.includes(keyHex) && !r.err.includes(keyHex));
  });

  it('monitor shows the boot log of the flashed board with its explanation', async () => {
    const r = await cli(['monitor', '--port', port, '--seconds', '1']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /Loaded app from partition at offset 0x10000/);
  });

  it('the core\'s captureBootLog (the editor\'s Serial Monitor and post-flash log) gets the boot log over socket:// with the default reset mode', async () => {
    const t = transportFromUrl(port);
    await t.open();
    try {
      const text = await captureBootLog(t, { ms: 1000, mode: 'auto' });
      assert.match(text, /Loaded app from partition at offset 0x10000/);
      assert.notEqual(explainBootLog(text).verdict, 'failed');
    } finally {
      await t.close();
    }
  });

  it('predict-boot --plan: the build on burned eFuses boots, on fresh ones it does not', async () => {
    const ok = await cli(['predict-boot', '--plan', '--build', dir, '--key-store', store.dir]);
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /WILL BOOT/);
    const fresh = await cli(['predict-boot', '--plan', '--build', dir, '--efuses', 'fresh', '--key-store', store.dir]);
    assert.equal(fresh.code, 1, fresh.out + fresh.err);
    assert.match(fresh.out, /WILL NOT BOOT/);
  });
});
