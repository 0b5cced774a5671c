import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import type { SimServer } from '../../src/core/virtual/tcp-server';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { createMemoryPair } from '../../src/core/transport/memory';
import { provision } from '../../src/core/workflows/provision';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import { isUserError } from '../../src/core/errors';
import { fixtureStore, flashMd5, secureBuild, servedBurnedGpy, tmpDir } from './flash-harness';

const MB = 0x100000;

/** A copy of `dir` (elsewhere, as a user copies a release folder) without `rel`. */
function copyWithout(dir: string, rel: string): string {
  const copy = path.join(tmpDir('table-copy-'), 'release');
  fs.cpSync(dir, copy, { recursive: true });
  fs.rmSync(path.join(copy, rel));
  return copy;
}

function missingTableMessage(dir: string): string {
  return `${dir} has no partition table for a board with 8 MB of flash: lib/partitions_8MB.bin_enc is missing, and its lib/partitions_4MB.bin_enc is made for another flash size (ota_0 and the file system would move); restore lib/partitions_8MB.bin_enc to the build folder, or build again (pycom-secure build); nothing was written.`;
}

/**
 * A new-user trial: a GPy build copied elsewhere without lib/partitions_8MB.bin_enc was flashed
 * with the 4 MB table onto an 8 MB GPy ("verified", "The board booted"), and so was
 * `flash 0x8000 lib/partitions_4MB.bin_enc`. Both are refused before a byte is written.
 */
describe('an 8 MB board never gets the 4 MB partition table (served virtual GPy)', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  let port: string;
  const store = fixtureStore();
  const dir = secureBuild('GPY');
  const noEight = copyWithout(dir, 'lib/partitions_8MB.bin_enc');

  before(async () => {
    ({ dev, server, port } = await servedBurnedGpy(store, 'flash-table-size'));
  });
  after(async () => {
    await server.close();
  });

  it('flash --build of a build without lib/partitions_8MB.bin_enc is refused (dry run too), the flash and the record untouched', async () => {
    for (const dry of [true, false]) {
      const before = flashMd5(dev);
      const audit = fs.readFileSync(store.auditPath, 'utf8');
      const r = await cli(['flash', '--port', port, '--key-store', store.dir, '--build', noEight, ...(dry ? ['--dry-run'] : [])]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.ok(r.err.includes(missingTableMessage(noEight)), r.err);
      assert.doesNotMatch(r.out, /written|verified|booted/);
      assert.equal(flashMd5(dev), before);
      assert.equal(fs.readFileSync(store.auditPath, 'utf8'), audit);
    }
  });

  it('flash --build of a build whose lib/partitions_8MB.bin_enc holds the 4 MB table (a copy over it) is refused (dry run too); the flash and the record untouched', async () => {
    const swapped = path.join(tmpDir('table-swap-'), 'release');
    fs.cpSync(dir, swapped, { recursive: true });
    fs.copyFileSync(path.join(swapped, 'lib/partitions_4MB.bin_enc'), path.join(swapped, 'lib/partitions_8MB.bin_enc'));
    for (const dry of [true, false]) {
      const before = flashMd5(dev);
      const audit = fs.readFileSync(store.auditPath, 'utf8');
      const r = await cli(['flash', '--port', port, '--key-store', store.dir, '--build', swapped, ...(dry ? ['--dry-run'] : [])]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /partitions_8MB\.bin_enc at 0x8000 \(ciphertext, \d+ bytes\) is named for 8 MB modules but holds Pycom's partition table for 4 MB modules \(a file copied over it, or a build tree mixed up\), so it would put ota_0 at 0x1C0000 instead of 0x210000 and the file system elsewhere; build again \(pycom-secure build\) or restore the file from the build; nothing was written\./);
      assert.doesNotMatch(r.out, /written|verified|booted/);
      assert.equal(flashMd5(dev), before);
      assert.equal(fs.readFileSync(store.auditPath, 'utf8'), audit);
    }
  });

  it('flash 0x8000 lib/partitions_4MB.bin_enc is refused, naming the table for 8 MB; the flash untouched', async () => {
    const before = flashMd5(dev);
    const table = path.join(dir, 'lib/partitions_4MB.bin_enc');
    const r = await cli(['flash', '--port', port, '--key-store', store.dir, '0x8000', table]);
    assert.equal(r.code, 2, r.out + r.err);
    const size = fs.statSync(table).size;
    assert.ok(r.err.includes(`partitions_4MB.bin_enc at 0x8000 (ciphertext, ${size} bytes) is Pycom's partition table for 4 MB modules, but this board has 8 MB of flash, so it would put ota_0 at 0x1C0000 instead of 0x210000 and the file system elsewhere; flash the build's table for 8 MB (lib/partitions_8MB.bin_enc) instead, or the whole build with --build DIR, which picks the table for the board's flash size; nothing was written.`), r.err);
    assert.equal(flashMd5(dev), before);
  });

  it('flash 0x8000 lib/partitions_8MB.bin_enc (the board\'s own size) passes the checks', async () => {
    const r = await cli(['flash', '--port', port, '--key-store', store.dir, '--dry-run', '0x8000', path.join(dir, 'lib/partitions_8MB.bin_enc')]);
    assert.equal(r.code, 0, r.out + r.err);
  });

  it('the whole build still takes lib/partitions_8MB.bin_enc, written at 0x8000', async () => {
    const r = await cli(['flash', '--port', port, '--build', dir, '--key-store', store.dir, '--boot-log-ms', '0']);
    assert.equal(r.code, 0, r.out + r.err);
    const eight = fs.readFileSync(path.join(dir, 'lib/partitions_8MB.bin_enc'));
    assert.deepEqual(Buffer.from(dev.flash.read(0x8000, eight.length)), eight);
    assert.notDeepEqual(eight, fs.readFileSync(path.join(dir, 'lib/partitions_4MB.bin_enc')));
  });

  it('the plan: the copy is refused for 8 MB and still gives its 4 MB table to a 4 MB board; a complete build picks by size', () => {
    assert.throws(() => planFromBuild(findBuildOutputs(noEight), { flashSize: 8 * MB }), (e: unknown) => isUserError(e) && e.code === 'E_PLAN_TABLE_MISSING' && e.message === missingTableMessage(noEight));
    assert.equal(planFromBuild(findBuildOutputs(noEight), { flashSize: 4 * MB }).layout, '4MB');
    const all = findBuildOutputs(dir);
    assert.equal(planFromBuild(all, { flashSize: 8 * MB }).layout, '8MB');
    assert.equal(planFromBuild(all, { flashSize: 4 * MB }).layout, '4MB');
    // Without a flash size the build (tables for 4 and 8 MB) cannot be planned, copy or not.
    assert.throws(() => planFromBuild(findBuildOutputs(noEight)), /makes partition tables for 4 MB and 8 MB modules; connect the board \(its flash size decides\) or pass --flash-size\./);
  });

  it('provision of GPy boards with that copy is refused before any board is opened', async () => {
    const other = new VirtualEsp32({ profile: 'GPY', seed: 'flash-table-size-provision' });
    const before = flashMd5(other);
    const efuses = JSON.stringify(other.efuse.rawWords());
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    other.attach(device);
    const mac = Array.from(other.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    await assert.rejects(
      provision({ ports: [{ port: '/dev/ttyACM0', reset: 'none', baud: 115200, transport: host }], store, buildDir: noEight, board: 'GPY', perDeviceKeys: false, hardening: false, approvedMacs: [mac], bootLog: false }, scriptedUi()),
      (e: unknown) => isUserError(e) && e.code === 'E_PLAN_TABLE_MISSING' && e.message === missingTableMessage(noEight),
    );
    assert.equal(flashMd5(other), before);
    assert.equal(JSON.stringify(other.efuse.rawWords()), efuses);
  });
});
