import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFlashCampaign, FLASH_ROWS } from '../campaign/flash';
import { runBurnCampaign, BURN_ROWS } from '../campaign/burn';
import { scaledClock } from '../campaign/clock';
import { formatCounters, type Counters } from '../campaign/outcome';
import { realClock } from '../../src/core/loader/clock';
import { SYNC_TIMEOUT_MS } from '../../src/core/loader/timeouts';
import { campaignFirmware } from '../../scripts/campaign';

/** Fixed so a failure replays exactly: `npm run campaign -- --seed <this>`. */
const SEED = 'unit-flash-1';

function assertClean(title: string, c: Counters, rows: readonly string[], runs: number, records: unknown[]): void {
  const text = formatCounters(title, c, SEED);
  assert.equal(c.runs, runs);
  assert.equal(c.other, 0, `${text}\n${JSON.stringify(records, null, 1)}`);
  for (const row of rows) assert.equal(c.violations[row], 0, row);
}

describe('campaign: flashing under faults (short)', function () {
  this.timeout(180_000);
  const fw = campaignFirmware();
  const work = () => fs.mkdtempSync(path.join(os.tmpdir(), 'camp-flash-'));

  it(`40 runs of full secure flash / incremental reflash, one fault each, then the same command (seed ${SEED})`, async () => {
    const r = await runFlashCampaign({ ...fw, runs: 40, seed: SEED, workDir: work(), clock: scaledClock(0.1), timeScale: 0.1, baud: 921600, syncTimeoutMs: 1000, concurrency: 4 });
    assertClean('flash', r.counters, Object.values(FLASH_ROWS), 40, r.records.filter((x) => x.end === 'other'));
    assert.ok(r.byScenario.full > 0 && r.byScenario.incremental > 0);
  });

  for (const baud of [115200, 921600]) {
    it(`timing model on at ${baud} baud, loader timeouts unscaled: Burn Keys and incremental reflash (seed ${SEED})`, async () => {
      const timed = { clock: realClock, timeScale: 1, baud, syncTimeoutMs: SYNC_TIMEOUT_MS, timing: true, concurrency: 3 };
      const b = await runBurnCampaign({ ...timed, runs: 3, seed: `${SEED}/b${baud}`, workDir: work(), flashKey: fw.flashKey, secureBootKey: fw.secureBootKey });
      assertClean('timed burn', b.counters, Object.values(BURN_ROWS), 3, b.records);
      const f = await runFlashCampaign({ ...timed, ...fw, runs: 2, seed: `${SEED}/f${baud}`, workDir: work(), scenarios: ['incremental'] });
      assertClean('timed flash', f.counters, Object.values(FLASH_ROWS), 2, f.records);
    });
  }
});
