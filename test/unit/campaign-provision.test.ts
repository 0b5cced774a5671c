import { strict as assert } from 'node:assert';
import { runProvisionCampaign } from '../campaign/provision';
import { realClock } from '../../src/core/loader/clock';
import { SYNC_TIMEOUT_MS } from '../../src/core/loader/timeouts';
import { provisionFirmware } from '../../scripts/campaign';
import { tmpDir } from './flash-harness';

/** The provisioning fault campaign, short: every must-be-0 row is 0 (npm run campaign runs the long one). */
describe('provisioning fault campaign (short)', function () {
  // Four rounds of four boards with unscaled loader timeouts (lost ports wait them out).
  this.timeout(600_000);
  it('boards provisioned at once under per-board faults: every must-be-0 row is 0 and every fault kind was drawn', async () => {
    const workDir = tmpDir('prov-campaign-');
    const { counters, records } = await runProvisionCampaign({
      // Unscaled loader timeouts: several boards share one event loop, and a timeout scaled down
      // to a tenth would measure the machine's load, not the product.
      ...provisionFirmware(workDir), rounds: 4, boards: 4, seed: 'unit-provision', workDir,
      clock: realClock, syncTimeoutMs: SYNC_TIMEOUT_MS, baud: 921600,
    });
    assert.deepEqual(records.filter((r) => r.problems.length), []);
    for (const [row, n] of Object.entries(counters.violations)) assert.equal(n, 0, row);
    assert.equal(counters.runs, 4);
    // The seed draws every kind, and the faults stop their boards in the first run.
    assert.deepEqual(Object.keys(counters.byKind).sort(), ['none', 'port-lost', 'power-mid-burn', 'power-mid-write', 'swap']);
    assert.ok(counters.faultsFired >= counters.faultsInjected - 2, JSON.stringify(counters));
  });
});
