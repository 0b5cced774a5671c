import { strict as assert } from 'node:assert';
import { board as boardFacts, modules } from '../../src/core/boards/catalog';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { runFlashSession, keysForBoard } from '../../src/core/flash/session';
import { KEYS, bootNow, fixtureStore, predictor, secureBuild, virtualBoard } from './flash-harness';

describe('full secure provisioning of each board profile', () => {
  // Every module profile, WiPy 2 (rev 0, 4 MB) included; each takes its board's firmware build.
  for (const m of modules()) {
    const board = m.makeBoard;
    it(`${m.id} (${m.title}, rev ${m.chipRevision}): burn keys, flash the ${board} secure set, predicted to boot`, async () => {
      // Burn Keys accepts revision 0 (secure boot v1 works there), so every profile must burn.
      const burned = await virtualBoard(m.id, { burn: true, seed: `prov-${m.id}` });
      const b = burned;
      try {
        assert.equal(b.info.security.flashEncryption.enabled, true);
        assert.equal(b.info.security.secureBoot.v1Enabled, true);
        const store = fixtureStore();
        const keys = keysForBoard(store, b.info);
        assert.ok(keys.flashKey && keys.secureBootKey);
        const build = findBuildOutputs(secureBuild(board), { flashKey: KEYS.flashKey });
        assert.equal(build.board, board);
        const plan = planFromBuild(build, { flashSize: b.info.flash.sizeBytes! });
        const layout = b.info.flash.sizeBytes! >= 0x800000 ? '8MB' : '4MB';
        assert.equal(plan.layout, layout);
        const res = await runFlashSession({ io: b.io, info: b.info, plan, store, keys, predictBoot: predictor(b.dev) });
        assert.deepEqual(res.results.map((r) => r.address), [0x0, 0x8000, 0x10000]);
        assert.ok(res.configBackup?.created);
        const v = bootNow(b.dev);
        assert.equal(v.boots, true, v.reason);
        assert.ok(boardFacts(board).appBin);
      } finally {
        b.close();
      }
    });
  }
});
