import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { boardBootPredictor } from '../../src/core/boot/predict-plan';
import { planFromPairs, type FlashPlan } from '../../src/core/flash/plan';
import { keysForBoard } from '../../src/core/flash/session';
import { encryptFor, secureSet, signApp } from '../../src/core/secure-build/process';
import { FIXTURE_IV, fixtureApp, fixtureBootloader } from '../../scripts/make-fixture-firmware';
import { fixtureStore, flashMd5, KEYS, tmpDir, virtualBoard, type Board } from './flash-harness';

/** `flash ADDR FILE` plans: the boot is predicted over the board's current flash with the plan laid over it. */
const set = secureSet({ bootloader: fixtureBootloader(), iv: FIXTURE_IV, app: fixtureApp(24 * 1024) }, KEYS, []);
/** An app signed with the right key whose appended SHA-256 is wrong: the bootloader refuses it as corrupt. */
const corruptApp = (() => {
  const plain = fixtureApp(24 * 1024, 'partial-corrupt');
  plain[plain.length - 1]! ^= 0xff; // the appended SHA-256: the checksum still holds
  return encryptFor(signApp(plain, KEYS.signingKey), 0x10000, KEYS.flashKey);
})();

function planOf(address: number, data: Uint8Array): FlashPlan {
  const file = path.join(tmpDir('partial-'), 'region.bin');
  fs.writeFileSync(file, data);
  return planFromPairs([{ address, file }]);
}

function write(b: Board, offset: number, data: Uint8Array): void {
  b.dev.flash.eraseRange(offset, Math.ceil(data.length / 0x1000) * 0x1000);
  b.dev.flash.program(offset, data);
}

async function predictorFor(b: Board, plan: FlashPlan, flash = b.io) {
  const store = fixtureStore();
  const notes: string[] = [];
  const r = await boardBootPredictor(b.conn.loader, b.info, plan, keysForBoard(store, b.info), store, { flash, note: (l) => notes.push(l) });
  return { ...r, notes };
}

describe('flash ADDR FILE: the boot after a partial write is predicted over the board\'s own flash', function () {
  this.timeout(120000);
  let b: Board;
  beforeEach(async () => {
    b = await virtualBoard('GPY', { burn: true, seed: 'partial-predict' });
  });
  afterEach(() => b.close());

  it('a good app over a board that boots: predicted to boot (the board\'s digest and table read, the app taken from the plan)', async () => {
    write(b, 0x0, set.digest);
    write(b, 0x8000, set.partitionTable);
    write(b, 0x10000, set.app);
    const plan = planOf(0x10000, set.app);
    const r = await predictorFor(b, plan);
    assert.equal(r.skipped, undefined);
    assert.deepEqual(await r.predictor!(plan), { boots: true });
    assert.equal(r.stillFails!(), undefined);
    assert.deepEqual(r.notes, []);
  });

  it('an app the bootloader would refuse, over a board that boots: the predictor refuses with the bootloader\'s reason, and only reads the board', async () => {
    write(b, 0x0, set.digest);
    write(b, 0x8000, set.partitionTable);
    write(b, 0x10000, set.app);
    const md5 = flashMd5(b.dev);
    const plan = planOf(0x10000, corruptApp);
    const r = await predictorFor(b, plan);
    const p = await r.predictor!(plan);
    assert.equal(p.boots, false);
    assert.match(p.reason!, /^The bootloader finds no bootable app: at 0x00010000 the image is corrupt/);
    assert.equal(r.stillFails!(), undefined);
    assert.equal(flashMd5(b.dev), md5);
  });

  it('a board that does not boot now (no bootloader yet): not refused for it, and said so', async () => {
    const plan = planOf(0x10000, set.app);
    const r = await predictorFor(b, plan);
    assert.deepEqual(await r.predictor!(plan), { boots: true });
    assert.match(r.stillFails!()!, /^The board does not boot now and will not after this write either: The board prints "[^"]+" and resets forever/);
    assert.deepEqual(r.notes, [`note: ${r.stillFails!()!}`]);
  });

  it('a write without the app (the partial table alone): skipped before reading anything, saying why (the app would be read back 64 bytes a request)', async () => {
    write(b, 0x0, set.digest);
    write(b, 0x8000, set.partitionTable);
    write(b, 0x10000, set.app);
    const plan = planOf(0x8000, set.partitionTable);
    let reads = 0;
    const r = await predictorFor(b, plan, { ...b.io, read: async (o, n) => (reads++, b.io.read(o, n)) });
    assert.equal(r.predictor, undefined);
    assert.match(r.skipped!, /^the boot after this partial write was not predicted: it would read the app back from the board 64 bytes a request/);
    assert.equal(reads, 0);
  });

  it('the board\'s flash cannot be read: the prediction is skipped and the reason said', async () => {
    write(b, 0x0, set.digest);
    const plan = planOf(0x10000, set.app);
    const r = await predictorFor(b, plan, { ...b.io, read: async () => Promise.reject(new Error('the ROM refused READ_FLASH_SLOW (0x05)')) });
    assert.deepEqual(await r.predictor!(plan), { boots: true });
    assert.equal(r.stillFails!(), 'The boot after this partial write was not predicted: the board\'s current flash could not be read (the ROM refused READ_FLASH_SLOW (0x05)).');
    assert.deepEqual(r.notes, [`note: ${r.stillFails!()!}`]);
  });

  it('flash encryption on and the board\'s key unknown: skipped, saying why', async () => {
    const plan = planOf(0x10000, set.app);
    const r = await boardBootPredictor(b.conn.loader, b.info, plan, {}, fixtureStore(), { flash: b.io });
    assert.equal(r.predictor, undefined);
    assert.match(r.skipped!, /^the boot after this partial write was not predicted: BLOCK1 is read-protected and the flash-encryption key is not known/);
  });
});
