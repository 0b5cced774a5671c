import { strict as assert } from 'node:assert';
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
});
