import { strict as assert } from 'node:assert';
import { BOARDS, BOARD_FIRMWARE } from '../../src/core/boards/firmware';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { runFlashSession, keysForBoard } from '../../src/core/flash/session';
import { KEYS, bootNow, fixtureStore, predictor, secureBuild, virtualBoard } from './flash-harness';

const PROFILES: Record<string, string> = { WIPY: 'WIPY', LOPY: 'LOPY', SIPY: 'SIPY', GPY: 'GPY', FIPY: 'FIPY', LOPY4: 'LOPY4' };

describe('full secure provisioning of each board profile', () => {
  for (const board of BOARDS) {
    it(`${board}: burn keys, flash the secure set, predicted to boot (rev-0 modules: burning refused)`, async () => {
      const burned = await virtualBoard(PROFILES[board]!, { burn: true, seed: `prov-${board}` }).catch((e: Error) => e);
      if (burned instanceof Error) {
        // Burn Keys may refuse secure boot v1 on revision-0 silicon; the flash checks then refuse ciphertext.
        assert.match(burned.message, /revision 0/);
        const b0 = await virtualBoard(PROFILES[board]!, { seed: `prov-${board}` });
        try {
          const plan0 = planFromBuild(findBuildOutputs(secureBuild(board)), { flashSize: b0.info.flash.sizeBytes! });
          await assert.rejects(runFlashSession({ io: b0.io, info: b0.info, plan: plan0, store: fixtureStore() }), (e: Error & { code?: string }) => e.code === 'E_PLAN_ENCRYPTED');
        } finally {
          b0.close();
        }
        return;
      }
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
        assert.ok(BOARD_FIRMWARE[board].appBin);
      } finally {
        b.close();
      }
    });
  }
});
