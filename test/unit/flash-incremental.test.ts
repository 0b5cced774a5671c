import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild, planFromPairs } from '../../src/core/flash/plan';
import { runFlashSession, keysForBoard, deviceDir } from '../../src/core/flash/session';
import { FlashJournal } from '../../src/core/flash/journal';
import { explainBootLog } from '../../src/core/boot/boot-log';
import { bootNow, fixtureStore, secureBuild, virtualBoard } from './flash-harness';

describe('incremental writes, cancellation and resume', () => {
  it('reflashing after a small app change writes only the differing sectors', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'incr' });
    try {
      const store = fixtureStore();
      const keys = keysForBoard(store, b.info);
      const first = planFromBuild(findBuildOutputs(secureBuild('GPY', 96 * 1024, 'app-v1')), { flashSize: 0x800000 });
      await runFlashSession({ io: b.io, info: b.info, plan: first, store, keys });
      // Same build again: nothing differs.
      const same = await runFlashSession({ io: b.io, info: b.info, plan: first, store, keys, incremental: true });
      assert.deepEqual(same.results.map((r) => r.bytesWritten), [0, 0, 0]);
      // Change one byte of the app's plaintext (and re-sign/re-encrypt): only a few sectors differ.
      const app = first.regions.find((r) => r.role === 'app')!;
      const changed = { ...first, regions: first.regions.map((r) => (r === app ? { ...r, data: new Uint8Array(r.data) } : r)) };
      const appNew = changed.regions.find((r) => r.role === 'app')!;
      appNew.data.fill(0x5a, 0x5000, 0x5010);
      const res = await runFlashSession({ io: b.io, info: b.info, plan: changed, store, keys, incremental: true, dryRun: false }).catch((e: Error) => e);
      // A corrupted ciphertext no longer decrypts to a valid image: the checks refuse it before writing.
      assert.ok(res instanceof Error && /E_PLAN_DECRYPT|does not decrypt/.test(`${(res as Error & { code?: string }).code} ${res.message}`));
      const v2 = planFromBuild(findBuildOutputs(secureBuild('GPY', 96 * 1024, 'app-v1')), { flashSize: 0x800000 });
      const inc = await runFlashSession({ io: b.io, info: b.info, plan: v2, store, keys, incremental: true });
      assert.ok(inc.results.every((r) => r.bytesWritten <= r.length));
      assert.equal(bootNow(b.dev).boots, true);
    } finally {
      b.close();
    }
  });

  it('a one-sector change rewrites one sector, and the board still boots', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'incr2' });
    try {
      const store = fixtureStore();
      const keys = keysForBoard(store, b.info);
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 96 * 1024, 'app-v1')), { flashSize: 0x800000 });
      await runFlashSession({ io: b.io, info: b.info, plan, store, keys });
      // Simulate a stale sector on the device: the incremental run finds and rewrites just that one.
      b.dev.flash.eraseSector(0x12000);
      const inc = await runFlashSession({ io: b.io, info: b.info, plan, store, keys, incremental: true });
      const app = inc.results.find((r) => r.address === 0x10000)!;
      assert.deepEqual(app.ranges, [[0x2000, 0x3000]]);
      assert.equal(app.bytesWritten, 0x1000);
      assert.equal(bootNow(b.dev).boots, true);
    } finally {
      b.close();
    }
  });

  it('cancelling between blocks marks the region incomplete; the next run rewrites it in full', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'cancel' });
    try {
      const store = fixtureStore();
      const keys = keysForBoard(store, b.info);
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 128 * 1024, 'app-c')), { flashSize: 0x800000 });
      const ac = new AbortController();
      const events: number[] = [];
      await assert.rejects(
        runFlashSession({
          io: b.io, info: b.info, plan, store, keys, signal: ac.signal,
          onProgress: (e) => {
            events.push(e.bytesDone);
            if (e.address === 0x10000 && e.phase === 'write' && e.bytesDone - 0x9000 > 0x4000) ac.abort();
          },
        }),
        (e: Error & { code?: string }) => e.code === 'E_CANCELLED' && /marked incomplete/.test(e.message),
      );
      const journal = new FlashJournal(path.join(deviceDir(store, b.info.mac.address), 'flash-journal.json'));
      assert.ok(journal.overlapsIncomplete(0x10000, 1));
      assert.equal(bootNow(b.dev).boots, false);
      const resumed = await runFlashSession({ io: b.io, info: b.info, plan, store, keys, incremental: true });
      const app = resumed.results.find((r) => r.address === 0x10000)!;
      assert.equal(app.bytesWritten, app.length, 'the interrupted region is rewritten in full');
      assert.equal(journal.read().length, 0);
      assert.equal(bootNow(b.dev).boots, true);
      assert.ok(events.length > 0);
    } finally {
      b.close();
    }
  });

  it('explains known boot-log failure lines', () => {
    const ex = explainBootLog('ets Jun  8 2016 00:22:57\r\n\r\nrst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nflash read err, 1000\r\nets_main.c 371 \r\n');
    assert.equal(ex.verdict, 'failed');
    assert.match(ex.summary, /plaintext bootloader on a chip with flash encryption on/);
    assert.equal(explainBootLog('Pycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n>>> ').verdict, 'booted');
    assert.equal(explainBootLog('secure boot check fail').findings[0]!.entry.id, 'secure-boot-check-fail');
  });
});

describe('ADDR FILE pairs are checked against the partition table on the board', () => {
  it('an app larger than the factory partition the board\'s table gives it is refused before anything is written', async function () {
    this.timeout(120_000);
    const b = await virtualBoard('GPY', { burn: true, seed: 'pairs-table' });
    try {
      const store = fixtureStore();
      const keys = keysForBoard(store, b.info);
      const full = planFromBuild(findBuildOutputs(secureBuild('GPY', 96 * 1024, 'pairs-small')), { flashSize: 0x800000 });
      await runFlashSession({ io: b.io, info: b.info, plan: full, store, keys });
      const factory = 2027520; // GPy 8 MB layout (partitions_8MB): factory 0x1EF000 bytes at 0x10000
      const big = path.join(secureBuild('GPY', factory + 64 * 1024, 'pairs-big'), 'gpy.bin_enc');
      const before = Buffer.from(b.dev.flash.read(0, 0x400000));
      const plan = planFromPairs([{ address: 0x10000, file: big }]);
      await assert.rejects(runFlashSession({ io: b.io, info: b.info, plan, store, keys }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_TOO_BIG');
        assert.match(e.message, /is larger than the "factory" partition it goes into \(0x10000, 2027520 bytes\)/);
        return true;
      });
      assert.ok(Buffer.from(b.dev.flash.read(0, 0x400000)).equals(before), 'nothing written');
      // The small app of the same build fits: checked against the board's table, and said so.
      const ok = await runFlashSession({ io: b.io, info: b.info, plan: planFromPairs([{ address: 0x10000, file: full.regions.find((r) => r.role === 'app')!.file }]), store, keys, dryRun: true });
      assert.ok(ok.report.notes.includes('Sizes checked against the partition table on the board (0x8000).'), ok.report.notes.join('\n'));
    } finally {
      b.close();
    }
  });
});
