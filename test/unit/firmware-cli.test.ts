import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { fixtureStore, secureBuild } from './flash-harness';


describe('firmware CLI', () => {
  it('flash --dry-run accepts a fixture build and refuses the same files at wrong addresses', async () => {
    const store = fixtureStore();
    const dir = secureBuild('GPY');
    const ok = await cli(['flash', '--dry-run', '--build', dir, '--flash-size', '0x800000', '--key-store', store.dir]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /gpy\.bin_enc at 0x10000/);
    const bad = await cli(['flash', '--dry-run', '--key-store', store.dir, '0x0', path.join(dir, 'bootloader/bootloader-reflash-digest.bin_enc'), '0x210000', path.join(dir, 'gpy.bin_enc')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /encrypted for address 0x10000, not 0x210000/);
  });

  it('ota-image writes the copy for the given slot and refuses an unknown one', async () => {
    const store = fixtureStore();
    const dir = secureBuild('GPY');
    const out = path.join(path.dirname(dir), 'ota.bin');
    const ok = await cli(['ota-image', '--board', 'GPY', '--build', dir, '--slot', '0x210000', '--output', out, '--key-store', store.dir]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /slot 0x210000 from gpy\.bin_enc_0x210000/);
    const bad = await cli(['ota-image', '--board', 'GPY', '--build', dir, '--slot', '0x1A0000', '--output', out + '2', '--key-store', store.dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /not a slot of GPy firmware/);
  });

  it('ota-image --slot that is not a slot: said first, before the per-device refusal and before any port is opened; nothing written', async () => {
    const store = fixtureStore();
    const dir = secureBuild('GPY');
    // A per-device key store: without --mac or --port it would be refused for that.
    const own = store.deviceFlashKeyPath('24:0a:c4:00:00:01');
    fs.mkdirSync(path.dirname(own), { recursive: true, mode: 0o700 });
    fs.writeFileSync(own, Buffer.alloc(32, 7), { mode: 0o600 });
    const out = path.join(path.dirname(dir), 'ota-bad-slot.bin');
    for (const extra of [[], ['--port', '/dev/pycom-no-such-port']]) {
      const r = await cli(['ota-image', '--board', 'GPY', '--build', dir, '--slot', '0x1A0000', '--output', out, '--key-store', store.dir, ...extra]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /^pycom-secure ota-image: --slot 0x1A0000, which is not a slot of GPy firmware .*\(known: 0x10000, .*\); check the board, the build's firmware version and the address, nothing was written\.\n$/);
      assert.doesNotMatch(r.err, /per-device|--mac|pycom-no-such-port/);
      assert.equal(fs.existsSync(out), false);
      assert.equal(fs.existsSync(store.auditPath), false);
    }
  });
});
