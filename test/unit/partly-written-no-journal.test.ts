import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { createMemoryPair } from '../../src/core/transport/memory';
import { connect } from '../../src/core/connect/connect';
import { identify } from '../../src/core/chip/identify';
import { instantSleepClock } from '../../src/core/loader/clock';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild, type PlanRegion } from '../../src/core/flash/plan';
import { deviceDir } from '../../src/core/flash/session';
import { JOURNAL_FILE } from '../../src/core/flash/journal';
import { romFlashIo } from '../../src/core/flash/rom-io';
import { partlyWrittenCause, partlyWrittenSentence, partlyWrittenTable } from '../../src/core/flash/partly-written';
import { writePartitionTable } from '../../src/core/partition/table';
import { encryptFor } from '../../src/core/secure-build/process';
import { predictBootOnBoard, predictionKeys } from '../../src/core/workflows/predict-boot';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import type { BoardSession } from '../../src/core/workflows/board';
import { bootNow, fixtureStore, flashMd5, KEYS, secureBuild, virtualBoard } from './flash-harness';

/**
 * Interrupted flashes found from the board's own content, without the flash journal (another
 * workstation's run, a journal lost with its key store folder): the ROM erases a region and then
 * programs it from its start, so a cut-off write leaves the region's start written and the rest
 * erased. The bootloader's digest image at 0x0 and the partition table at 0x8000 are named as
 * interrupted writes of that region, with the rerun advice, and no key is blamed.
 */
describe('partly written bootloader and partition table, found without a journal (predict-boot)', function () {
  this.timeout(120_000);
  const store = fixtureStore();
  let dev: VirtualEsp32;
  let session: BoardSession;
  let close: () => void;
  let regions: PlanRegion[];

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'partly-no-journal' });
    const access = directAccess(dev.efuse);
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
    // Burned by this key store (its verified run is the evidence for the protected keys).
    await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit: new AuditLog(store.auditPath) });
    regions = planFromBuild(findBuildOutputs(secureBuild('GPY', 64 * 1024, 'partly-no-journal')), { flashSize: 0x800000 }).regions;
    const { host, device } = createMemoryPair();
    dev.attach(device);
    dev.reset('download');
    await host.open();
    const conn = await connect(host, { reset: 'none', baud: 115200, clock: instantSleepClock, syncTimeoutMs: 2000 });
    session = { transport: host, conn, chip: await identify(conn) };
    close = () => conn.loader.dispose();
  });
  after(() => close());

  const region = (address: number): Uint8Array => regions.find((r) => r.address === address)!.data;
  /** The build written straight into the flash (a finished flash from another workstation: no journal here). */
  function flashWhole(): void {
    for (const r of regions) {
      dev.flash.eraseRange(r.address, Math.ceil(r.data.length / 0x1000) * 0x1000);
      dev.flash.program(r.address, r.data);
    }
  }
  /** As the ROM leaves a write of the region at `address` cut off after `n` bytes: erased, its first `n` bytes programmed. */
  function cutAt(address: number, n: number): void {
    const data = region(address);
    dev.flash.eraseRange(address, Math.ceil(data.length / 0x1000) * 0x1000);
    dev.flash.program(address, data.subarray(0, n));
  }
  async function predict() {
    const flashBefore = flashMd5(dev);
    const auditBefore = fs.readFileSync(store.auditPath, 'utf8');
    const r = await predictBootOnBoard(session, { store, keys: (b) => predictionKeys(store, b) }, scriptedUi());
    assert.equal(flashMd5(dev), flashBefore, 'nothing written');
    assert.equal(fs.readFileSync(store.auditPath, 'utf8'), auditBefore, 'nothing recorded');
    assert.equal(fs.existsSync(path.join(deviceDir(store, session.chip.mac.address), JOURNAL_FILE)), false, 'no journal');
    return r;
  }
  beforeEach(() => flashWhole());

  it('the whole build boots (the cases below differ only by the cut)', async () => {
    const r = await predict();
    assert.equal(r.verdict?.boots, true);
    assert.equal(r.partlyWritten, undefined);
  });

  it('the digest image cut off inside its bootloader: the bootloader and its digest named as an interrupted write, no key blamed', async () => {
    cutAt(0x0, 0x1800);
    assert.equal(bootNow(dev).boots, false);
    const r = await predict();
    assert.equal(r.verdict?.boots, false);
    assert.deepEqual([r.partlyWritten?.address, r.partlyWritten?.written, r.partlyWritten?.source, r.partlyWritten?.imageAt], [0x0, 0x1800, 'image', 0x1000]);
    assert.equal(r.diagnosis, 'the bootloader and its digest at 0x0 was only partly written (flash interrupted after 6144 bytes): its image at 0x1000 starts valid, but the flash is erased from 0x1800 on, where the image goes on; run the same `pycom-secure flash` again to finish it (the interrupted region is written again in full, with --incremental too).');
    assert.match(r.verdict!.reason, /the bootloader and its digest at 0x0 was only partly written \(an interrupted flash\)\.$/);
    assert.doesNotMatch(r.diagnosis!, /key/);
  });

  it('the digest image cut off before its bootloader: named as an interrupted write, with the other cause that looks the same', async () => {
    cutAt(0x0, 0x400);
    const r = await predict();
    assert.equal(r.verdict?.boots, false);
    assert.deepEqual([r.partlyWritten?.written, r.partlyWritten?.source], [0x400, 'digest']);
    assert.equal(r.diagnosis, 'the bootloader and its digest at 0x0 was only partly written (flash interrupted after 1024 bytes): its digest block is written, but the flash is erased from 0x400 on, where its bootloader goes at 0x1000 (or only a digest block was ever written there); run the same `pycom-secure flash` again to finish it (the interrupted region is written again in full, with --incremental too).');
  });

  for (const c of [
    { n: 0x400, held: '5 valid entries and its MD5 entry', note: 'in its padding, after the MD5 entry (the ROM writes 1 KB blocks)' },
    { n: 0x40, held: '2 valid entries', note: 'inside its entries' },
  ]) {
    it(`the partition table cut off ${c.note}: named as an interrupted write of the table`, async () => {
      cutAt(0x8000, c.n);
      assert.equal(bootNow(dev).boots, false);
      const r = await predict();
      assert.equal(r.verdict?.boots, false);
      assert.deepEqual([r.partlyWritten?.address, r.partlyWritten?.written, r.partlyWritten?.source], [0x8000, c.n, 'table']);
      assert.equal(r.diagnosis, `the partition table at 0x8000 was only partly written (flash interrupted after ${c.n} bytes): it holds ${c.held}, then erased flash from 0x${(0x8000 + c.n).toString(16)} on, where the table goes on; run the same \`pycom-secure flash\` again to finish it (the interrupted region is written again in full, with --incremental too).`);
      assert.match(r.verdict!.reason, /the partition table at 0x8000 was only partly written \(an interrupted flash\)\.$/);
    });
  }

  it('what is not a cut is not called one: a region erased from its start, a table encrypted with another key', async () => {
    cutAt(0x8000, 0);
    let r = await predict();
    assert.equal(r.verdict?.boots, false);
    assert.equal(r.partlyWritten, undefined);
    flashWhole();
    const other = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 0x5b) & 0xff);
    const plainTable = writePartitionTable([{ type: 0, subtype: 0, offset: 0x10000, size: 0x1c0000, label: 'factory', encrypted: false }]);
    dev.flash.eraseRange(0x8000, 0x1000);
    dev.flash.program(0x8000, encryptFor(plainTable, 0x8000, other));
    r = await predict();
    assert.equal(r.verdict?.boots, false);
    assert.equal(r.partlyWritten, undefined);
    assert.doesNotMatch(r.diagnosis ?? '', /partly written/);
  });
});

describe('a plaintext partition table ending without its MD5 entry: both causes are said', function () {
  this.timeout(60_000);
  it('entries then erased flash with no MD5 entry: "an interrupted flash, or a table made without one"; with its MD5 entry: nothing said', async () => {
    const b = await virtualBoard('GPY', { seed: 'partly-plain-table' });
    try {
      const io = romFlashIo(b.conn.loader);
      const plain = (o: number, n: number) => io.read(o, n);
      const entries = [
        { type: 1, subtype: 2, offset: 0x9000, size: 0x6000, label: 'nvs', encrypted: false },
        { type: 0, subtype: 0, offset: 0x10000, size: 0x1c0000, label: 'factory', encrypted: false },
      ];
      b.dev.flash.eraseRange(0x8000, 0x1000);
      b.dev.flash.program(0x8000, writePartitionTable(entries, { md5: false }).subarray(0, 64));
      const cut = await partlyWrittenTable(io, plain, 0x8000, 0xc00, false);
      assert.deepEqual(cut, { address: 0x8000, written: 64, source: 'table', table: { entries: 2, md5: false, orNoMd5: true } });
      assert.equal(partlyWrittenSentence(cut!, 'the partition table'), 'the partition table at 0x8000 may be only partly written: it holds 2 valid entries, then erased flash from 0x8040 on with no MD5 entry, which is how a write cut off before the MD5 entry ends, and also how a table made without one ends; if the build\'s table has an MD5 entry, run the same `pycom-secure flash` again to finish it (the interrupted region is written again in full, with --incremental too).');
      assert.equal(partlyWrittenCause(cut!, 'the partition table'), 'the partition table at 0x8000 ends without its MD5 entry (an interrupted flash, or a table made without one)');
      b.dev.flash.eraseRange(0x8000, 0x1000);
      b.dev.flash.program(0x8000, writePartitionTable(entries));
      assert.equal(await partlyWrittenTable(io, plain, 0x8000, 0xc00, false), undefined);
    } finally {
      b.close();
    }
  });
});
