import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { boardJournal, deviceDir, keysForBoard, runFlashSession } from '../../src/core/flash/session';
import { confirmUnfinishedWrite, diagnosePartlyWrittenRegion, erasedTailStart, partlyWrittenFile, partlyWrittenImage } from '../../src/core/flash/partly-written';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { BoardRecordWriter } from '../../src/core/audit/board-record';
import { bootNow, fixtureStore, KEYS, secureBuild, virtualBoard, type Board } from './flash-harness';

/**
 * An interrupted write is found by tests on the board (erased tail, MD5s), never by the journal's
 * word alone, and a region that is whole or holds other content is never called partly written.
 */
describe('partly written regions (an interrupted flash)', () => {
  const APP = 0x10000;
  let b: Board;
  let app: Uint8Array;
  const store = fixtureStore();

  before(async () => {
    b = await virtualBoard('GPY', { burn: true, seed: 'partly' });
    const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 200 * 1024, 'partly-app')), { flashSize: 0x800000 });
    await runFlashSession({ io: b.io, info: b.info, plan, store, keys: keysForBoard(store, b.info) });
    app = plan.regions.find((r) => r.address === APP)!.data;
  });
  after(() => b.close());

  /** As the ROM leaves a write cut off after `n` bytes: the region erased, its first `n` bytes programmed. */
  function cutAt(n: number): void {
    b.dev.flash.eraseRange(APP, app.length);
    b.dev.flash.program(APP, app.subarray(0, n));
  }
  const plain = async (o: number, n: number): Promise<Uint8Array> => {
    const s = o & ~31;
    const e = (o + n + 31) & ~31;
    return decryptFlashData(await b.io.read(s, e - s), { key: KEYS.flashKey, address: s, flashCryptConf: 0xf }).subarray(o - s, o - s + n);
  };

  it('measures where the erased tail starts (32-byte blocks), and says none when the region ends written', async () => {
    cutAt(0x5400);
    assert.equal(await erasedTailStart(b.io, APP, app.length), 0x5400);
    assert.equal(await erasedTailStart(b.io, APP, 0x5400), undefined);
    assert.equal(bootNow(b.dev).boots, false);
  });

  it('without a journal: the file\'s first bytes then erased flash (verify-flash), or a valid image start then erased flash (predict-boot)', async () => {
    cutAt(0x9000);
    assert.deepEqual(await partlyWrittenFile(b.io, APP, app, 'gpy.bin_enc'), { address: APP, length: app.length, written: 0x9000, source: 'file', file: 'gpy.bin_enc' });
    const img = await partlyWrittenImage(b.io, plain, APP, 0x1c0000);
    assert.equal(img?.source, 'image');
    assert.equal(img?.written, 0x9000);
    // Another file's bytes there are not "partly written" (the first bytes differ).
    const other = new Uint8Array(app);
    other[0] ^= 1;
    assert.equal(await partlyWrittenFile(b.io, APP, other), undefined);
    // A region erased from its start holds nothing of the file: not partly written either.
    cutAt(0);
    assert.equal(await partlyWrittenFile(b.io, APP, app), undefined);
    assert.equal(await partlyWrittenImage(b.io, plain, APP, 0x1c0000), undefined);
  });

  it('the journal\'s claim is tested on the board: confirmed with the run that began it; a region the board holds in full is not reported', async () => {
    const mac = b.info.mac.address;
    const rec = new BoardRecordWriter(store.auditPath, 'flash', mac, () => []);
    boardJournal(store, mac).begin(APP, app, 'gpy.bin_enc');
    cutAt(0x3000);
    const cut = await confirmUnfinishedWrite(b.io, store, mac, { address: APP, length: 0x1c0000 });
    assert.deepEqual([cut?.source, cut?.written, cut?.length, cut?.run?.id, cut?.run?.result], ['journal', 0x3000, app.length, rec.id, 'interrupted']);
    const sentence = await diagnosePartlyWrittenRegion(b.io, store, mac, { address: APP, data: app, file: '/x/gpy.bin_enc', role: 'app' });
    assert.match(sentence!, /^the app at 0x10000 \(gpy\.bin_enc\) was only partly written \(flash interrupted at 12288 of \d+ bytes\): the key store's flash journal says the flash run \S+ \(interrupted\) began writing it at \S+ and never finished, .*run the same `pycom-secure flash` again to finish it \(the interrupted region is written again in full, with --incremental too\)\.$/);
    // Another range than the journal's: nothing to say.
    assert.equal(await confirmUnfinishedWrite(b.io, store, mac, { address: 0x8000, length: 0x1000 }), undefined);
    // Finished some other way (the board holds the journal's bytes): not reported.
    b.dev.flash.eraseRange(APP, app.length);
    b.dev.flash.program(APP, app);
    assert.equal(await confirmUnfinishedWrite(b.io, store, mac, { address: APP, length: 0x1c0000 }), undefined);
    assert.equal(bootNow(b.dev).boots, true);
    assert.ok(fs.existsSync(path.join(deviceDir(store, mac), 'flash-journal.json')));
  });
});
