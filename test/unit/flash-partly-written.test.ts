import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { boardJournal, deviceDir, keysForBoard, runFlashSession } from '../../src/core/flash/session';
import { confirmUnfinishedWrite, diagnosePartlyWrittenRegion, erasedTailStart, partlyWrittenFile, partlyWrittenImage } from '../../src/core/flash/partly-written';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { BoardRecordWriter, readBoardRecords, recordFlashProgress, regionsWritten, sha256Hex } from '../../src/core/audit/board-record';
import { predictBootOnBoard, predictionReport } from '../../src/core/workflows/predict-boot';
import { predictionKeys, scriptedUi } from '../../src/core';
import { flash } from '../../src/core/workflows/flash';
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
    // Only its owner reads it, as everything else in the key store (a new-user trial found it 0644).
    assert.equal(fs.statSync(path.join(deviceDir(store, mac), 'flash-journal.json')).mode & 0o777, 0o600);
  });

  it('predict-boot on a board that boots, with a write into the OTA slot cut off: WILL BOOT stands, and a note names the slot and the rerun (verify-flash\'s test)', async () => {
    const mac = b.info.mac.address;
    const OTA = 0x210000;
    assert.equal(bootNow(b.dev).boots, true);
    new BoardRecordWriter(store.auditPath, 'flash', mac, () => []);
    boardJournal(store, mac).begin(OTA, app, 'gpy.bin_enc');
    b.dev.flash.eraseRange(OTA, app.length);
    b.dev.flash.program(OTA, app.subarray(0, 0x2000));
    const session = { transport: undefined as never, conn: b.conn, chip: b.info };
    const r = await predictBootOnBoard(session, { store, trustKeyStore: true, keys: ({ mac: m, threeFour }) => predictionKeys(store, { mac: m, threeFour }, {}) }, scriptedUi());
    assert.equal(r.verdict?.boots, true, r.resolved.undecidable.join(' '));
    assert.equal(r.notes?.length, 1, JSON.stringify(r.notes));
    assert.match(r.notes![0]!, /^Note: the app that boots is intact, but the region at 0x210000 \(gpy\.bin_enc\) was only partly written \(flash interrupted at 8192 of \d+ bytes\): the key store's flash journal says the flash run \S+ \(interrupted\) began writing it .*; run the same `pycom-secure flash` again to finish it/);
    const said = predictionReport('The board', r);
    assert.equal(said.status, 'boots');
    assert.equal(said.lines[said.lines.length - 1], r.notes![0]);
    // The slot written in full (finished some other way): no note.
    b.dev.flash.eraseRange(OTA, app.length);
    b.dev.flash.program(OTA, app);
    const whole = await predictBootOnBoard(session, { store, trustKeyStore: true, keys: ({ mac: m, threeFour }) => predictionKeys(store, { mac: m, threeFour }, {}) }, scriptedUi());
    assert.equal(whole.verdict?.boots, true);
    assert.equal(whole.notes, undefined);
  });
});

/**
 * The record of a run cut off mid-way lists what a successful run's lists for the regions it
 * finished (written and verified), plus the region it was cut off in, marked `cutOff`.
 */
describe('the record of a cut-off flash run', function () {
  this.timeout(120_000);
  it('power lost in the app: the digest image and the table are listed as written, the app as cut off', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'cut-record' });
    try {
      const store = fixtureStore();
      const mac = b.info.mac.address;
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 64 * 1024, 'cut-record-app')), { flashSize: 0x800000 });
      const [digest, table, app] = [...plan.regions].sort((x, y) => x.address - y.address) as [typeof plan.regions[0], typeof plan.regions[0], typeof plan.regions[0]];
      // Power lost before the 20th page of the app (256-byte page programs, the digest and table first).
      const pages = (n: number): number => Math.ceil(n / 256);
      b.dev.faults.setPowerLoss({ kind: 'flash-program', step: pages(digest.data.length) + pages(table.data.length) + 20 });
      // As `flash` and `provision` keep the record: every progress event into it, the error at the end.
      const cut = new BoardRecordWriter(store.auditPath, 'flash', mac, () => [KEYS.flashKey]);
      await assert.rejects(runFlashSession({ io: b.io, info: b.info, plan, store, keys: keysForBoard(store, b.info), onProgress: (e) => recordFlashProgress(cut, plan, e) }).catch((e: Error) => {
        cut.end('failed', {}, e.message);
        throw e;
      }));
      const region = (g: typeof digest) => ({ address: g.address, file: g.file, sha256: sha256Hex(g.data), length: g.data.length });
      const [rec] = readBoardRecords(store.auditPath, mac);
      assert.equal(rec!.result, 'failed');
      assert.deepEqual(rec!.regions, [
        { ...region(digest), bytesWritten: digest.data.length },
        { ...region(table), bytesWritten: table.data.length },
        { ...region(app), cutOff: true },
      ]);
    } finally {
      b.close();
    }
  });

  it('the flash workflow keeps the record itself: power lost in the app leaves a failed record naming the module from its first line, the app cut off (trial 7)', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'cut-record-workflow' });
    try {
      const store = fixtureStore();
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 64 * 1024, 'cut-record-app')), { flashSize: 0x800000 });
      const [digest, table] = [...plan.regions].sort((x, y) => x.address - y.address);
      const pages = (n: number): number => Math.ceil(n / 256);
      b.dev.faults.setPowerLoss({ kind: 'flash-program', step: pages(digest!.data.length) + pages(table!.data.length) + 20 });
      await assert.rejects(flash({ transport: b.conn.transport, conn: b.conn, chip: b.info }, { store, plan: () => plan, bootLog: false, trustKeyStore: true }, scriptedUi()));
      const [rec] = readBoardRecords(store.auditPath, b.info.mac.address);
      assert.equal(rec!.operation, 'flash');
      assert.equal(rec!.result, 'failed');
      assert.equal(rec!.board, 'GPY');
      assert.deepEqual(rec!.regions.map((g) => [g.address, g.cutOff === true]), [[0x0, false], [0x8000, false], [0x10000, true]]);
    } finally {
      b.close();
    }
  });

  it('a run that finishes lists each region once (as written, then in its summary), none cut off', async () => {
    const b = await virtualBoard('GPY', { burn: true, seed: 'whole-record' });
    try {
      const store = fixtureStore();
      const plan = planFromBuild(findBuildOutputs(secureBuild('GPY', 64 * 1024, 'cut-record-app')), { flashSize: 0x800000 });
      const rec = new BoardRecordWriter(store.auditPath, 'flash', b.info.mac.address, () => [KEYS.flashKey]);
      const { results } = await runFlashSession({ io: b.io, info: b.info, plan, store, keys: keysForBoard(store, b.info), onProgress: (e) => recordFlashProgress(rec, plan, e) });
      rec.add('flash', { regions: regionsWritten(plan, results) });
      rec.end('ok');
      const [got] = readBoardRecords(store.auditPath);
      assert.equal(got!.result, 'ok');
      assert.deepEqual(got!.regions, regionsWritten(plan, results));
      assert.deepEqual(got!.regions.map((g) => [g.address, g.cutOff]), [[0x0, undefined], [0x8000, undefined], [0x10000, undefined]]);
    } finally {
      b.close();
    }
  });
});
