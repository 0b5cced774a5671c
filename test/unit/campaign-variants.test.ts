import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFlashCampaign, FLASH_ROWS } from '../campaign/flash';
import { runBurnCampaign, BURN_ROWS } from '../campaign/burn';
import { scaledClock } from '../campaign/clock';
import { formatCounters, type Counters } from '../campaign/outcome';
import { campaignFirmware } from '../../scripts/campaign';

/** Fixed so a failure replays exactly: `npm run campaign -- --seed <this>`. */
const SEED = 'unit-variants-1';

function assertClean(title: string, c: Counters, rows: readonly string[], runs: number, records: unknown[]): void {
  assert.equal(c.runs, runs);
  assert.equal(c.other, 0, `${formatCounters(title, c, SEED)}\n${JSON.stringify(records, null, 1)}`);
  for (const row of rows) assert.equal(c.violations[row], 0, row);
}

/**
 * The board families the GPy campaign does not cover: the 3/4 coding scheme (192-bit keys, where
 * every eFuse block is 3/4-encoded and a corrupted word is a different failure) and a 4 MB,
 * revision-0 module (LoPy: 4 MB partition layout and the revision-0 boot path).
 */
describe('campaign: other board families under faults (short)', function () {
  this.timeout(120_000);
  const fast = { clock: scaledClock(0.1), timeScale: 0.1, baud: 921600, syncTimeoutMs: 1000, concurrency: 4 };
  const variants = [
    { title: 'GPy, coding 3/4', profile: 'GPY', codingScheme: '3/4', fw: () => campaignFirmware({ board: 'GPY', keylen: 192 }) },
    { title: 'LoPy, 4 MB, revision 0', profile: 'LOPY', codingScheme: 'none', fw: () => campaignFirmware({ board: 'LOPY', flashSize: 0x400000 }) },
  ] as const;
  for (const v of variants) {
    it(`${v.title}: 12 Burn Keys and 12 flash runs, one fault each, then the same command (seed ${SEED})`, async () => {
      const fw = v.fw();
      assert.equal(fw.flashKey.length, v.codingScheme === '3/4' ? 24 : 32);
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'camp-var-'));
      const b = await runBurnCampaign({ ...fast, runs: 12, seed: `${SEED}/burn-${v.profile}`, workDir: work, profile: v.profile, codingScheme: v.codingScheme, flashKey: fw.flashKey, secureBootKey: fw.secureBootKey, hardening: true });
      assertClean(`${v.title} burn`, b.counters, Object.values(BURN_ROWS), 12, b.records.filter((x) => x.end === 'other'));
      const f = await runFlashCampaign({ ...fast, ...fw, runs: 12, seed: `${SEED}/flash-${v.profile}`, workDir: work, profile: v.profile, codingScheme: v.codingScheme });
      assertClean(`${v.title} flash`, f.counters, Object.values(FLASH_ROWS), 12, f.records.filter((x) => x.end === 'other'));
      fs.rmSync(work, { recursive: true, force: true });
    });
  }
});
