import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureStore, flashMd5, secureBuild, servedBurnedGpy } from './flash-harness';
import { cli } from './helpers/cli';

/** What the seventh new-user trial found in the command line's messages. */
describe('trial 7: flash messages', function () {
  this.timeout(180_000);

  it('a write refused for its address is not preceded by the note that the partial plan\'s boot prediction was skipped; an accepted one says it', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'trial7-note');
    try {
      const gpy = secureBuild('GPY', 24 * 1024, 'trial7-note-gpy');
      const table = path.join(gpy, 'lib', 'partitions_8MB.bin_enc');
      const before = flashMd5(served.dev);
      const bad = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '0x8001', table]);
      assert.equal(bad.code, 2, bad.out + bad.err);
      assert.doesNotMatch(bad.err, /READ_FLASH_SLOW|boot after this partial write was not predicted/);
      assert.match(bad.err, /The flash address 0x8001 is not a multiple of 16/);
      assert.equal(flashMd5(served.dev), before);
      const ok = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '0x8000', table]);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.match(ok.err, /note: the boot after this partial write was not predicted: it would read the app back/);
    } finally {
      await served.server.close();
    }
  });

  it('records on an empty audit.jsonl (no run recorded yet): no records, exit 0, as its --help says; a file of lines that are no record is refused', async () => {
    const store = fixtureStore();
    fs.mkdirSync(path.dirname(store.auditPath), { recursive: true });
    fs.writeFileSync(store.auditPath, '');
    const empty = await cli(['records', '--key-store', store.dir]);
    assert.equal(empty.code, 0, empty.err);
    assert.deepEqual(JSON.parse(empty.out), []);
    assert.equal(empty.err, '');
    fs.writeFileSync(store.auditPath, 'not a record\n');
    const junk = await cli(['records', '--key-store', store.dir]);
    assert.equal(junk.code, 2, junk.out + junk.err);
  });

  it('predict-boot right after Burn Keys (flash erased): "erased, nothing written yet", not a key the store does not hold (trial 8)', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'trial8-erased');
    try {
      const p = await cli(['predict-boot', '--port', served.port, '--key-store', store.dir]);
      assert.equal(p.code, 1, p.out + p.err);
      assert.match(p.out, /WILL NOT BOOT\. The board prints "flash read err, 1000" and resets forever: the flash at 0x0 \(for the bootloader and its digest\) is erased: nothing was written there yet\./);
      assert.doesNotMatch(p.out + p.err, /a key this key store does not hold|encrypted with another key/);
      assert.match(p.out, /Diagnosis: .*so it says nothing about the key; flash the build \(`pycom-secure flash --port PORT --build DIR`\)\.$/m);
    } finally {
      await served.server.close();
    }
  });

  it('ota-image --port on a 4 MB WiPy 2.0 refuses the 8 MB layout\'s slot 0x210000 (trial 9): no image is written', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'trial9-wipy2', 'WIPY2');
    try {
      const wipy = secureBuild('WIPY', 24 * 1024, 'trial9-wipy');
      const out = path.join(path.dirname(store.dir), 'ota-wipy2.bin');
      const r = await cli(['ota-image', '--board', 'WIPY', '--build', wipy, '--slot', '0x210000', '--port', served.port, '--output', out, '--key-store', store.dir]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /--slot 0x210000, which is not a slot of WiPy firmware [^(]* on a board with 4 MB of flash \(known: 0x10000, 0x1c0000\); .*nothing was written\.\n$/i);
      assert.equal(fs.existsSync(out), false);
      // Its own slot is made.
      const ok = await cli(['ota-image', '--board', 'WIPY', '--build', wipy, '--slot', '0x1c0000', '--port', served.port, '--output', out, '--key-store', store.dir]);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.equal(fs.existsSync(out), true);
    } finally {
      await served.server.close();
    }
  });

  it('--board WIPY2 (a virtual profile, a module) says which board it is built and flashed as (trial 9)', async () => {
    const r = await cli(['flash', '--port', 'socket://127.0.0.1:1', '--board', 'WIPY2', '--build', 'nowhere']);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.err, 'pycom-secure flash: --board must be WIPY, LOPY, SIPY, GPY, FIPY or LOPY4, not "WIPY2"; the WiPy 2.0 is a WiPy module, built and flashed as --board WIPY.\n');
  });
});
