import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { TARGETS, cleanupFuzzFiles } from '../fuzz/targets';

/** Fixed: a failure here replays with `npm run fuzz -- --seed 7007`. */
const SEED = 7007;
const BUDGET = 150;

describe(`fuzz: every parser of outside input (fixed budget ${BUDGET}, seed ${SEED})`, function () {
  this.timeout(60_000);
  after(cleanupFuzzFiles);
  for (const t of TARGETS) {
    it(`${t.name}: returns or rejects with a clear UserError`, async () => {
      await fc.assert(t.property(), { numRuns: Math.max(5, Math.round(BUDGET * t.weight)), seed: SEED, endOnFailure: true });
      assert.ok(process.memoryUsage().heapUsed < 1.5e9, 'memory stays bounded');
    });
  }
});
