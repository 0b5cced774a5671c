import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { board, boardFlashSize, boardIds, catalog, layout, moduleIds, otaSlots, parseBoard, withBoards, type PartitionLayout, type PycomBoard } from '../../src/core/boards/catalog';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { resolveModule } from '../../src/core/virtual/profiles';
import { runCli } from '../../src/cli/main';
import { COMMON_MK_FILE, PACKAGE_JSON, commonMk, packageJsonText } from '../../scripts/gen-catalog';
import { fixtureStore, secureBuild } from './flash-harness';

const MB = 1024 * 1024;

/** A made-up 16 MB GPy: 8MB and 16MB tables in Era D, like WiPy's two. */
const GPY16: PycomBoard = {
  ...board('GPY'),
  id: 'GPY16',
  name: 'GPy16',
  appBin: 'gpy16.bin',
  generations: { ...board('GPY').generations, D: { layouts: ['8MB', '16MB'], otaCopies: [0x210000] } },
  modules: [{ id: 'GPY16', title: 'GPy 16 MB', flashSize: 16 * MB, chipRevision: 1, packageCode: 0 }],
};
const L16: PartitionLayout = { id: '16MB', flashSize: 16 * MB, entries: layout('8MB').entries, fileSystem: layout('8MB').fileSystem };

function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = { out: '', err: '' };
  return runCli(argv, { out: (l) => void (r.out += `${l}\n`), err: (l) => void (r.err += `${l}\n`) }).then((code) => ({ code, ...r }));
}

describe('board catalog', () => {
  it('package.json board enums and the fixture common.mk match the catalog (run npm run gen:catalog when this fails)', () => {
    assert.equal(fs.readFileSync(PACKAGE_JSON, 'utf8'), packageJsonText(fs.readFileSync(PACKAGE_JSON, 'utf8')));
    assert.equal(fs.readFileSync(COMMON_MK_FILE, 'utf8'), commonMk());
    const props = (JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { contributes: { configuration: { properties: Record<string, { enum: string[]; default: string }> } } }).contributes.configuration.properties;
    // Both spellings users have in their settings today still resolve.
    for (const v of props['pycom.board']!.enum.filter((x) => x !== 'auto')) assert.ok(parseBoard(v), v);
    assert.ok(props['pycom.virtualBoardProfile']!.enum.includes(props['pycom.virtualBoardProfile']!.default));
    assert.equal(parseBoard('GPY'), 'GPY');
    assert.equal(resolveModule('GPy').id, 'GPY');
  });

  it('holds the facts the tables it replaced held', () => {
    assert.deepEqual(boardIds(), ['WIPY', 'LOPY', 'SIPY', 'GPY', 'FIPY', 'LOPY4']);
    assert.deepEqual(moduleIds(), ['WIPY', 'WIPY2', 'LOPY', 'SIPY', 'GPY', 'FIPY', 'LOPY4']);
    assert.deepEqual(boardIds().map(boardFlashSize), [4 * MB, 4 * MB, 4 * MB, 8 * MB, 8 * MB, 8 * MB]);
    assert.deepEqual(otaSlots('WIPY', 'D'), [0x1c0000, 0x210000]);
    assert.deepEqual(otaSlots('GPY', 'C-rc12-13'), [0x210000]);
    assert.deepEqual(otaSlots('SIPY', 'C-rc12-13'), [0x1c0000]);
  });

  it('refuses a board that names an unknown layout or reuses an id, and leaves the catalog as it was', () => {
    assert.throws(() => withBoards({ boards: [GPY16] }, () => 0), /unknown layout 16MB/);
    assert.throws(() => withBoards({ boards: [{ ...GPY16, id: 'GPY' }], layouts: [L16] }, () => 0), /GPY is defined twice/);
    assert.equal(catalog().boards.length, 6);
  });

  it('a board added in memory shows up in --board, the flash plan, predict-boot and the virtual profiles, and is gone after', async () => {
    const store = fixtureStore();
    await withBoards({ boards: [GPY16], layouts: [L16] }, async () => {
      // CLI --board choices
      const bad = await cli(['predict-boot', '--plan', '--build', '/nonexistent', '--board', 'NOPE']);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--board must be WIPY, LOPY, SIPY, GPY, FIPY, LOPY4 or GPY16, not "NOPE"/);
      assert.equal(parseBoard('gpy16'), 'GPY16');

      // The flash plan's layout follows the board's flash size.
      const dir = secureBuild('GPY16');
      assert.ok(fs.existsSync(`${dir}/lib/partitions_16MB.bin_enc`) && fs.existsSync(`${dir}/gpy16.bin_enc_0x210000`));
      const outputs = findBuildOutputs(dir);
      assert.equal(outputs.board, 'GPY16');
      assert.equal(outputs.generation, 'D');
      assert.equal(planFromBuild(outputs, { flashSize: boardFlashSize('GPY16') }).layout, '16MB');
      assert.equal(planFromBuild(outputs, { flashSize: 8 * MB }).layout, '8MB');
      assert.throws(() => planFromBuild(outputs), /partition tables for 8 MB and 16 MB modules/);

      // predict-boot --plan takes the 16 MB size from the catalog (no --flash-size) and predicts a boot.
      const p = await cli(['predict-boot', '--plan', '--build', dir, '--board', 'GPY16', '--signing-key', store.signingKeyPath, '--flash-key', store.sharedFlashKeyPath, '--json']);
      assert.equal(p.code, 0, p.out + p.err);
      assert.equal((JSON.parse(p.out) as { outcome: string }).outcome, 'app-running');

      // Virtual profiles
      assert.ok(moduleIds().includes('GPY16'));
      const dev = new VirtualEsp32({ profile: 'gpy16' });
      assert.equal(dev.flash.size, 16 * MB);
      assert.equal(dev.module.makeBoard, 'GPY16');
      assert.throws(() => resolveModule('NOPE'), /choose one of WIPY, WIPY2, LOPY, SIPY, GPY, FIPY, LOPY4, GPY16/);
      const help = await cli(['sim', 'serve', '--help']);
      assert.match(help.out, /--profile WIPY\|WIPY2\|LOPY\|SIPY\|GPY\|FIPY\|LOPY4\|GPY16/);
    });
    assert.equal(parseBoard('GPY16'), undefined);
    assert.ok(!moduleIds().includes('GPY16'));
  });
});
