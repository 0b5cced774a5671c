import { strict as assert } from 'node:assert';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { runFlashSession } from '../../src/core/flash/session';
import { readEfuses } from '../../src/core/efuse/access';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { plannedBootEfuses, predictBootFromReader, resolveBootEfuses } from '../../src/core/boot/predict-connected';
import { KEYS, bootNow, fixtureStore, secureBuild, virtualBoard } from './flash-harness';

/** predict-boot's core: keys for read-protected blocks, and the flash read lazily over the loader. */
describe('boot prediction for a connected board', () => {
  it('over the loader: read-protected keys make it undecidable until the key store supplies them; then it matches the direct prediction, reading only what the boot reads', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'predict-connected' });
    try {
      const store = fixtureStore();
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 200 * 1024), { flashKey: KEYS.flashKey }), { flashSize: b.info.flash.sizeBytes! });
      await runFlashSession({ io: b.io, info: b.info, plan, store });
      const words = (await readEfuses(b.conn.loader)).words;

      const blind = resolveBootEfuses(words, b.info.revision.major, {});
      assert.equal(blind.undecidable.length, 2);
      assert.match(blind.undecidable.join(' '), /BLOCK1 is read-protected.*--flash-key/);
      assert.match(blind.undecidable.join(' '), /BLOCK2 is read-protected.*--secure-boot-key/);

      const r = resolveBootEfuses(words, b.info.revision.major, { flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey });
      assert.deepEqual(r.undecidable, []);
      assert.equal(r.assumptions.length, 2);
      for (const a of r.assumptions) assert.ok(!a.includes(Buffer.from(KEYS.flashKey).toString('hex')));
      let read = 0;
      const v = await predictBootFromReader({
        efuse: r.efuse,
        flashSize: b.info.flash.sizeBytes!,
        read: (o, n) => b.conn.loader.readFlash(o, n),
        signingPublicKey: KEYS.signingKey.publicKey,
        onRead: (n) => (read += n),
      });
      const direct = bootNow(b.dev);
      assert.equal(v.boots, true, v.reason);
      assert.deepEqual({ outcome: v.outcome, log: v.log }, { outcome: direct.outcome, log: direct.log });
      // Digest + bootloader (32 KB), the table sector and the 200 KB app, not the whole partition.
      assert.ok(read < 0x8000 + 0x1000 + 220 * 1024, `read ${read} bytes`);
    } finally {
      b.close();
    }
  });

  it('a readable key block is used as read, even when another key is given', async () => {
    const b = await virtualBoard('GPY', { seed: 'predict-connected-fresh' });
    try {
      const words = (await readEfuses(b.conn.loader)).words;
      const r = resolveBootEfuses(words, b.info.revision.major, { flashKey: KEYS.flashKey });
      assert.deepEqual(r.undecidable, []);
      assert.deepEqual(r.efuse.flashKey, bootEfusesFromRaw(words, b.info.revision.major).flashKey);
    } finally {
      b.close();
    }
  });

  it('planned states: burned needs both keys, fresh needs none', () => {
    assert.equal(plannedBootEfuses('burned', {}).undecidable.length, 2);
    const burned = plannedBootEfuses('burned', { flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey });
    assert.deepEqual(burned.undecidable, []);
    assert.equal(burned.efuse.flashCryptCnt, 1);
    assert.equal(burned.efuse.absDone0, true);
    assert.deepEqual(plannedBootEfuses('fresh', {}).undecidable, []);
  });
});
