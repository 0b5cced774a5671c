import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { describeRegion, planFromBuild, planFromPairs, type FlashPlan } from '../../src/core/flash/plan';
import { runFlashSession, keysForBoard } from '../../src/core/flash/session';
import { encryptFor } from '../../src/core/secure-build/process';
import { digestSecureBootloader } from '../../src/core/crypto/bootloader-digest';
import { fixtureApp, fixtureBootloader, FIXTURE_IV } from '../../scripts/make-fixture-firmware';
import { secureSet } from '../../src/core/secure-build/process';
import { checkPlan } from '../../src/core/flash/checks';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { layout } from '../../src/core/boards/catalog';
import { writePartitionTable, type PartitionEntry } from '../../src/core/partition/table';
import { KEYS, fixtureStore, flashMd5, predictor, secureBuild, tmpDir, virtualBoard, type Board } from './flash-harness';

function file(data: Uint8Array): string {
  const p = path.join(tmpDir('f-'), 'x.bin');
  fs.writeFileSync(p, data);
  return p;
}

describe('flash plan refusals (nothing written: virtual flash MD5 unchanged)', function () {
  let secured: Board;
  let plainBoard: Board;
  let build: string;
  before(async () => {
    secured = await virtualBoard('GPY', { burn: true, seed: 'refusals' });
    plainBoard = await virtualBoard('GPY', { seed: 'refusals-plain' });
    build = secureBuild('GPY');
  });
  after(() => {
    secured.close();
    plainBoard.close();
  });
  const out = () => findBuildOutputs(build, { flashKey: KEYS.flashKey });
  const byRole = (role: string) => out().outputs.find((o) => o.role === role)!.path;

  async function refused(b: Board, plan: FlashPlan, code: RegExp, message: RegExp, extra: { forceConfigSector?: boolean; noPredict?: boolean } = {}): Promise<void> {
    const before = flashMd5(b.dev);
    const store = fixtureStore();
    await assert.rejects(
      runFlashSession({ io: b.io, info: b.info, plan, store, keys: keysForBoard(store, b.info), ...(extra.noPredict ? {} : { predictBoot: predictor(b.dev) }), ...(extra.forceConfigSector ? { forceConfigSector: true } : {}) }),
      (e: Error & { code?: string }) => {
        assert.match(e.code ?? '', code);
        assert.match(e.message, message);
        return true;
      },
    );
    assert.equal(flashMd5(b.dev), before);
  }

  it('overlapping regions', async () => {
    await refused(secured, planFromPairs([{ address: 0x10000, file: byRole('app') }, { address: 0x11000, file: byRole('app') }]), /E_PLAN_(OVERLAP|DECRYPT)/, /./);
  });
  it('misaligned address', async () => {
    const p = planFromPairs([{ address: 0x10000, file: byRole('app') }]);
    p.regions[0]!.address = 0x10100;
    await refused(secured, p, /E_PLAN_(ALIGN|DECRYPT)/, /./);
  });
  it('misaligned address (plaintext data region)', async () => {
    await refused(plainBoard, planFromPairs([{ address: 0x9100, file: file(new Uint8Array(64).fill(1)) }]), /E_PLAN_ALIGN/, /4 KB sector boundary/);
  });
  it('overlap of two plaintext data files', async () => {
    await refused(plainBoard, planFromPairs([{ address: 0x9000, file: file(new Uint8Array(0x2000).fill(1)) }, { address: 0xa000, file: file(new Uint8Array(16).fill(2)) }]), /E_PLAN_OVERLAP/, /overlaps/);
  });
  it('an address beyond the board\'s flash says so, with the flash size and what to do (third new-user trial)', async () => {
    await refused(plainBoard, planFromPairs([{ address: 0x800000, file: file(new Uint8Array(64).fill(1)) }]), /E_PLAN_FLASH_SIZE/, /^x\.bin at 0x800000 \(.*\) starts at 0x800000, beyond this board's 8 MB of flash \(its last address is 0x7FFFFF\): give an address inside the flash, or check that the address, the file and the board are the ones you meant; nothing was written\.$/);
    await refused(plainBoard, planFromPairs([{ address: 0x7ff000, file: file(new Uint8Array(0x2000).fill(1)) }]), /E_PLAN_FLASH_SIZE/, /ends at 0x801000, past the end of this board's 8 MB of flash/);
  });
  it('file larger than its partition', async () => {
    const big = secureBuild('GPY', 0x1f0000, 'big');
    await refused(secured, planFromBuild(findBuildOutputs(big), { flashSize: 0x800000 }), /E_PLAN_TOO_BIG/, /larger than the "factory" partition .*; the build does not fit this layout\.$/);
  });
  it('a single file (ADDR FILE) larger than its partition names the file and the partition, not "the build" (fifth new-user trial)', async () => {
    await refused(secured, planFromPairs([{ address: 0x8000, file: table8() }, { address: 0x9000, file: file(new Uint8Array(0x8000).fill(1)) }]), /E_PLAN_TOO_BIG/, /^x\.bin at 0x9000 \(.*32768 bytes, into "nvs" \(data\/nvs partition, not encrypted\)\) is larger than the "nvs" partition it goes into \(0x9000, \d+ bytes\), by \d+ bytes; give a file that fits the "nvs" partition, or the address of a partition large enough for it/);
  });
  // The table for this 8 MB board (the plan's table is checked before the other files).
  const table8 = () => out().outputs.find((o) => o.role === 'partition-table' && o.layout === '8MB')!.path;
  it('the same files at wrong addresses: encrypted for another address', async () => {
    await refused(secured, planFromPairs([{ address: 0x0, file: byRole('bootloader-digest') }, { address: 0x8000, file: table8() }, { address: 0x210000, file: byRole('app') }]), /E_PLAN_DECRYPT/, /encrypted for address 0x10000, not 0x210000/);
  });
  it('another of the build\'s files at a low address: named as what it is and where it goes, not blamed on the key', async () => {
    await refused(secured, planFromPairs([{ address: 0x0, file: byRole('app') }]), /E_PLAN_DECRYPT/, / is not a secure boot digest \+ bootloader image: it is an ESP32 app image encrypted for address 0x10000; write it at 0x10000, or give the file built for 0x0\.$/);
    await refused(secured, planFromPairs([{ address: 0x1000, file: byRole('bootloader-digest') }]), /E_PLAN_DECRYPT/, /: it is a secure boot digest \+ bootloader image encrypted for address 0x0; write it at 0x0, or give the file built for 0x1000\.$/);
  });
  it('wrong key', async () => {
    const other = encryptFor(fs.readFileSync(byRole('app')), 0x10000, new Uint8Array(32).fill(9));
    // A key the store does not hold: no cause can be tested, and the sentence says so.
    await refused(secured, planFromPairs([{ address: 0x10000, file: file(other) }]), /E_PLAN_DECRYPT/, /none of the causes that can be tested holds .*key this key store does not hold.*"invalid magic byte"/);
  });
  it('plaintext image for a chip with flash encryption on', async () => {
    await refused(secured, planFromPairs([{ address: 0x1000, file: file(fixtureBootloader()) }]), /E_PLAN_PLAINTEXT/, /flash read err, 1000/);
  });
  it('a plaintext bootloader, wherever it is given, is named and sent to the digest image at 0x0 on a secure boot chip', async () => {
    for (const address of [0x1000, 0x0, 0x10000]) {
      await refused(secured, planFromPairs([{ address, file: file(fixtureBootloader()) }]), /E_PLAN_PLAINTEXT/, /is a bootloader image \(flashed at 0x1000\), and with secure boot on the bootloader goes onto this board only as the build's bootloader\/bootloader-reflash-digest\.bin_enc at 0x0 \(the bootloader with its digest, encrypted\); `flash --build DIR` picks the build's encrypted files\.$/);
    }
  });
  it('a plaintext app on a chip with flash encryption on: named, and the encrypted file for its address asked for', async () => {
    await refused(secured, planFromPairs([{ address: 0x10000, file: file(fixtureApp(8 * 1024, 'plain-app')) }]), /E_PLAN_PLAINTEXT/, /use the file encrypted for 0x10000 \(\S+ is an app image\); `flash --build DIR` picks the build's encrypted files\.$/);
  });
  it('encrypted images for a chip with encryption off', async () => {
    await refused(plainBoard, planFromBuild(out(), { flashSize: 0x800000 }), /E_PLAN_ENCRYPTED/, /flash encryption is off/);
  });
  it('digest made with a key other than the one in BLOCK2', async () => {
    const digest = digestSecureBootloader(fixtureBootloader(), new Uint8Array(32).fill(3), FIXTURE_IV).output;
    await refused(secured, planFromPairs([{ address: 0x0, file: file(encryptFor(digest, 0, KEYS.flashKey)) }]), /E_PLAN_DIGEST_KEY/, /secure boot check fail/);
  });
  it('anything below 0x8000 but the digest image once secure boot is on', async () => {
    const pad = encryptFor(new Uint8Array(0x1000).fill(0xff), 0x4000, KEYS.flashKey);
    await refused(secured, planFromPairs([{ address: 0x4000, file: file(pad) }]), /E_PLAN_BOOTLOADER/, /below 0x8000/);
  });
  it('the config sector unless forced', async () => {
    await refused(plainBoard, planFromPairs([{ address: 0x3ff000, file: file(new Uint8Array(0x1000).fill(0)) }]), /E_PLAN_CONFIG_SECTOR/, /LoRa\/Sigfox identity/);
  });
  describe('partition tables checked as gen_esp32part.py does (issue 18): signed, encrypted, refused before any write', () => {
    const base = layout('8MB').entries;
    const withTable = (table: Uint8Array, flashSize = 0x800000): FlashPlan => {
      const p = planFromBuild(out(), { flashSize });
      const r = p.regions.find((x) => x.role === 'partition-table')!;
      r.data = secureSet({ bootloader: fixtureBootloader(), app: fixtureApp(24 * 1024, 'fixture-app'), partitionTable: table, iv: FIXTURE_IV }, KEYS, []).partitionTable;
      return p;
    };
    const edit = (i: number, e: Partial<PartitionEntry>): PartitionEntry[] => base.map((x, j) => (j === i ? { ...x, ...e } : x));
    const cases: Array<[string, Uint8Array, RegExp, RegExp]> = [
      ['overlapping app partitions (factory 0x10000 size 0x1B0000, ota_0 at 0x100000)', writePartitionTable(edit(1, { size: 0x1b0000 }).map((x) => (x.label === 'ota_0' ? { ...x, offset: 0x100000 } : x))),
        /E_PT_OVERLAP/, /partitions "factory" \(0x10000-0x1C0000\) and "ota_0" \(from 0x100000\) overlap; fix the partition table \(partitions\.csv\) and build again\.$/],
      ['a factory partition past the end of the 8 MB flash', writePartitionTable(edit(3, { size: 0x700000 })), /E_PT_FLASH/, /partition "ota_0" ends at 0x910000, past the end of the 8 MB flash/],
      ['an app partition not on a 64 KB boundary', writePartitionTable(edit(3, { offset: 0x211000 })), /E_PT_ALIGN/, /partition "ota_0" starts at 0x211000, which is not 0x10000-aligned/],
      ['two partitions with one name', writePartitionTable(edit(3, { label: 'factory' })), /E_PT_NAMES/, /the partition name "factory" is used more than once, and names must be unique/],
      ['an entry after the MD5 row', (() => {
        const t = writePartitionTable(base);
        const extra = writePartitionTable([{ label: 'late', type: 1, subtype: 0x81, offset: 0x400000, size: 0x1000, encrypted: false }], { md5: false });
        Buffer.from(extra.subarray(0, 32)).copy(t, (base.length + 1) * 32);
        return t;
      })(), /E_PT_MD5/, /1 entry comes after its MD5 row, which covers only the entries before it/],
      ['two otadata partitions', writePartitionTable([...base.slice(0, 4), { label: 'otadata2', type: 1, subtype: 0, offset: 0x400000, size: 0x1000, encrypted: false }, base[4]!]), /E_PT_OTADATA/, /it has 2 otadata partitions/],
    ];
    for (const [name, table, code, message] of cases) {
      it(name, async () => {
        await refused(secured, withTable(table), code, message);
      });
    }
    it('without a board, the bounds come from the board catalog (the layout\'s 8 MB)', async () => {
      await assert.rejects(checkPlan(withTable(writePartitionTable(edit(3, { size: 0x700000 }))), { flashKey: KEYS.flashKey }), /past the end of the 8 MB flash/);
      await checkPlan(withTable(writePartitionTable(base)), { flashKey: KEYS.flashKey });
    });
  });
  describe('an app image only where the table has an app partition', () => {
    let flashed: Board;
    const appPlain = () => decryptFlashData(fs.readFileSync(byRole('app')), { key: KEYS.flashKey, address: 0x10000, flashCryptConf: 0xf });
    const appFor = (address: number) => file(encryptFor(appPlain(), address, KEYS.flashKey));
    before(async () => {
      // The build's 8 MB table on the board: factory at 0x10000, ota_0 at 0x210000, nvs at 0x9000.
      flashed = await virtualBoard('GPY', { burn: true, seed: 'app-address' });
      const store = fixtureStore();
      await runFlashSession({ io: flashed.io, info: flashed.info, plan: planFromBuild(out(), { flashSize: 0x800000 }), store, keys: keysForBoard(store, flashed.info) });
    });
    after(() => flashed.close());
    it('refused inside ota_0 (0x300000), against the table on the board', async () => {
      await refused(flashed, planFromPairs([{ address: 0x300000, file: appFor(0x300000) }]), /^E_PLAN_APP_ADDRESS$/,
        /^x\.bin at 0x300000 \(ciphertext, \d+ bytes, into "ota_0" \(app\/ota_0 partition, encrypted\)\) is an app image, but 0x300000 is inside the "ota_0" app partition \(0x210000-0x3FF000\) in the partition table, so the bootloader would never start it and the write would overwrite what is there; write it at an app partition's address \("factory" at 0x10000, "ota_0" at 0x210000\)\.$/);
    });
    it('refused at 0x9000, the nvs partition', async () => {
      await refused(flashed, planFromPairs([{ address: 0x9000, file: appFor(0x9000) }]), /^E_PLAN_APP_ADDRESS$/,
        /^x\.bin at 0x9000 \(ciphertext, \d+ bytes, into "nvs" \(data\/nvs partition, not encrypted\)\) is an app image, but 0x9000 is the "nvs" data partition in the partition table, so the bootloader would never start it/);
    });
    it('refused past every partition, with the plan\'s own table (no board)', async () => {
      const p = planFromBuild(out(), { flashSize: 0x800000 });
      p.regions.push({ address: 0x500000, file: '/b/app_0x500000.bin', data: encryptFor(appPlain(), 0x500000, KEYS.flashKey), role: 'app', encrypted: true });
      await assert.rejects(checkPlan(p, { flashKey: KEYS.flashKey }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_APP_ADDRESS');
        assert.match(e.message, /is an app image, but the partition table has nothing at 0x500000, so the bootloader would never start it .*\("factory" at 0x10000, "ota_0" at 0x210000\)\.$/);
        return true;
      });
    });
    // 4 KiB of random-looking bytes (deterministic): no image, table or digest image at any address.
    const rnd4k = () => file(Buffer.concat(Array.from({ length: 128 }, (_, i) => createHash('sha256').update(`rnd4k ${i}`).digest())));
    it('4 KiB written into the middle of the factory app (0x12000) is refused: the app would fail its checks', async () => {
      await refused(flashed, planFromPairs([{ address: 0x12000, file: rnd4k() }]), /^E_PLAN_INSIDE_APP$/,
        /^x\.bin at 0x12000 \(ciphertext, 4096 bytes, into "factory" \(app\/factory partition, encrypted\)\) starts inside the "factory" app partition \(0x10000-0x1FF000\), not at its start, so the app there would fail its checksum and signature check and the board would not start it; write the whole app at 0x10000 \(`flash --build DIR`, with --incremental to send only what differs\); nothing was written\.$/);
      // At a 64 KB boundary inside it (guessed an app by its address alone): the same refusal, as data.
      await refused(flashed, planFromPairs([{ address: 0x20000, file: rnd4k() }]), /^E_PLAN_INSIDE_APP$/, /^x\.bin at 0x20000 \(ciphertext, 4096 bytes, into "factory" \(app\/factory partition, encrypted\)\) starts inside the "factory" app partition \(0x10000-0x1FF000\)/);
      // A plaintext file inside an app partition, on the plan's own table (no board).
      const p = planFromBuild(out(), { flashSize: 0x800000 });
      p.regions.push({ address: 0x220000, file: '/b/patch.bin', data: new Uint8Array(0x1000).fill(0x11), role: 'data', encrypted: false });
      await assert.rejects(checkPlan(p, { flashKey: KEYS.flashKey }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_INSIDE_APP');
        assert.match(e.message, /inside the "ota_0" app partition \(0x210000-0x3FF000\)/);
        return true;
      });
    });
    it('the app encrypted for 0x10000 given at 0x9000 (nvs) is refused, naming the address it was encrypted for', async () => {
      await refused(flashed, planFromPairs([{ address: 0x9000, file: byRole('app') }]), /^E_PLAN_DECRYPT$/,
        /^gpy\.bin_enc at 0x9000 \(ciphertext, \d+ bytes\) was encrypted for address 0x10000, not 0x9000: it is an ESP32 app image for 0x10000, and written at 0x9000 it would overwrite what is there with bytes the chip decrypts into garbage; write it at 0x10000 \(`flash --build DIR` writes each file of the build at its address\); nothing was written\.$/);
      // Without a board too (dry run: the plan and the key only).
      await assert.rejects(checkPlan(planFromPairs([{ address: 0x9000, file: byRole('app') }]), { flashKey: KEYS.flashKey }), /was encrypted for address 0x10000, not 0x9000/);
      // The table encrypted for 0x8000 given at 0x1ff000 (otadata): named as a partition table.
      await refused(flashed, planFromPairs([{ address: 0x1ff000, file: table8() }]), /^E_PLAN_DECRYPT$/, /was encrypted for address 0x8000, not 0x1FF000: it is a partition table for 0x8000/);
    });
    it('a region outside every partition and every fixed region (0x200000) is refused, naming the regions the firmware keeps outside the table', async () => {
      await refused(flashed, planFromPairs([{ address: 0x200000, file: rnd4k() }]), /^E_PLAN_OUTSIDE_TABLE$/,
        /^x\.bin at 0x200000 \(ciphertext, 4096 bytes\) lies outside every partition of the partition table \("nvs" 0x9000-0x10000, "factory" 0x10000-0x1FF000, "otadata" 0x1FF000-0x200000, "ota_0" 0x210000-0x3FF000, "config" 0x3FF000-0x400000\) and outside "fs1" \(the \/flash file system Pycom's firmware keeps outside the partition table, 0x400000-0x800000\), the only region Pycom's firmware keeps outside this table, so nothing .* the address is most likely a mistake; give the address of the partition or region the file is for, or flash a partition table that has a partition there first; nothing was written\.$/);
    });
    it('the 8 MB modules\' /flash at 0x400000 ("fs1", outside the table) is accepted, named in the plan, and written as given', async () => {
      const store = fixtureStore();
      const plan = planFromPairs([{ address: 0x400000, file: rnd4k() }]);
      await runFlashSession({ io: flashed.io, info: flashed.info, plan, store, keys: keysForBoard(store, flashed.info), predictBoot: predictor(flashed.dev) });
      assert.match(describeRegion(plan.regions[0]!), /^x\.bin at 0x400000 \(ciphertext, 4096 bytes, into "fs1" \(the \/flash file system Pycom's firmware keeps outside the partition table, 0x400000-0x800000, encrypted\)\)$/);
      assert.ok(Buffer.from(flashed.dev.flash.read(0x400000, 0x1000)).equals(plan.regions[0]!.data));
    });
    it('"fs1" is read through flash encryption: a plaintext file there on an encrypted board is refused', async () => {
      const plan = planFromPairs([{ address: 0x400000, file: rnd4k() }]);
      Object.assign(plan.regions[0]!, { role: 'data', encrypted: false });
      await refused(flashed, plan, /^E_PLAN_PLAINTEXT$/, /^x\.bin at 0x400000 \(ciphertext, 4096 bytes, into "fs1" \(.*, encrypted\)\) is plaintext, but flash encryption is on/);
      // A file system image is no build output: it is encrypted by hand for its address (trial 8), not taken from `flash --build`.
      await refused(flashed, plan, /^E_PLAN_PLAINTEXT$/, /encrypt it for 0x400000 with the board's flash key first \(`encrypt-flash-data --keyfile KEY\.bin --address 0x400000 --output OUT x\.bin`\) and flash that\.$/);
    });
    it('a write running past the end of "fs1" is refused (past the flash with the board; past the region without one)', async () => {
      const big = () => file(new Uint8Array(0x2000).fill(0x33));
      await refused(flashed, planFromPairs([{ address: 0x7ff000, file: big() }]), /^E_PLAN_FLASH_SIZE$/, /ends at 0x801000, past the end of this board's 8 MB of flash/);
      // Without a board: the plan's own 8 MB table says where "fs1" ends.
      await assert.rejects(checkPlan(planFromPairs([{ address: 0x8000, file: table8() }, { address: 0x7ff000, file: big() }]), { flashKey: KEYS.flashKey }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_TOO_BIG');
        assert.match(e.message, /^x\.bin at 0x7FF000 \(text, 8192 bytes, into "fs1" \(.*\)\) ends at 0x801000, past the end of "fs1" at 0x800000, so it would overwrite what lies after it; give a file of at most 4096 bytes for 0x7FF000; nothing was written\.$/);
        return true;
      });
    });
    it('0x400000 on a 4 MB board is refused: past its flash, and with the 4 MB table not a region of its layout', async () => {
      const small = await virtualBoard('SIPY', { seed: 'fs1-4mb' });
      try {
        await refused(small, planFromPairs([{ address: 0x400000, file: rnd4k() }]), /^E_PLAN_FLASH_SIZE$/, /starts at 0x400000, beyond this board's 4 MB of flash/);
      } finally {
        small.close();
      }
      const table4 = out().outputs.find((o) => o.role === 'partition-table' && o.layout === '4MB')!.path;
      await assert.rejects(checkPlan(planFromPairs([{ address: 0x8000, file: table4 }, { address: 0x400000, file: rnd4k() }]), { flashKey: KEYS.flashKey }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_OUTSIDE_TABLE');
        assert.match(e.message, /\("nvs" 0x9000-0x10000, .*"fs" 0x380000-0x3FF000, "config" 0x3FF000-0x400000\) and Pycom's firmware keeps no region of its own outside this table, so nothing/);
        return true;
      });
    });
    it('labels say what the file is by its bytes and where it goes by the table, never guessed from the address', async () => {
      // A text file in nvs: text, into an nvs partition that is not encrypted (IDF 3.x: unless flagged), and accepted as plaintext.
      const text = planFromPairs([{ address: 0x8000, file: table8() }, { address: 0x9000, file: file(Buffer.from('key=value\n'.repeat(100))) }]);
      await checkPlan(text, { flashKey: KEYS.flashKey });
      assert.equal(describeRegion(text.regions[1]!), 'x.bin at 0x9000 (text, 1000 bytes, into "nvs" (data/nvs partition, not encrypted))');
      assert.equal(text.regions[1]!.encrypted, false);
      // The same nvs flagged encrypted in a table of one's own is said to be encrypted.
      const entries = layout('8MB').entries.map((e) => (e.label === 'nvs' ? { ...e, encrypted: true } : e));
      const own = planFromPairs([{ address: 0x8000, file: file(writePartitionTable(entries)) }, { address: 0x9000, file: rnd4k() }]);
      await checkPlan(own, { flashKey: KEYS.flashKey });
      assert.equal(describeRegion(own.regions[1]!), 'x.bin at 0x9000 (ciphertext, 4096 bytes, into "nvs" (data/nvs partition, encrypted))');
      // An app image at 0x3FF000 is an app image going into the config sector, not "config".
      await refused(flashed, planFromPairs([{ address: 0x3ff000, file: file(appPlain()) }]), /^E_PLAN_CONFIG_SECTOR$/,
        /^x\.bin at 0x3FF000 \(app image, \d+ bytes, into "config" \(data\/6 partition, not encrypted\)\) would overwrite the config sector/);
    });
    it('allowed at ota_0 (0x210000), and plain data still allowed in nvs: written', async () => {
      const store = fixtureStore();
      const data = new Uint8Array(0x1000).fill(0x5a);
      const plan = planFromPairs([{ address: 0x210000, file: appFor(0x210000) }, { address: 0x9000, file: file(data) }]);
      assert.deepEqual(plan.regions.map((r) => r.role), ['app', 'data']);
      await runFlashSession({ io: flashed.io, info: flashed.info, plan, store, keys: keysForBoard(store, flashed.info), predictBoot: predictor(flashed.dev) });
      assert.ok(Buffer.from(flashed.dev.flash.read(0x210000, 0x100)).equals(plan.regions[0]!.data.subarray(0, 0x100)));
      assert.ok(Buffer.from(flashed.dev.flash.read(0x9000, 0x1000)).equals(data));
    });
  });
  it('a plan after which the device would not boot (boot prediction)', async () => {
    // Only the table and the app: erased digest sector means the ROM finds no bootloader.
    const p = planFromBuild(out(), { flashSize: 0x800000 });
    p.regions = p.regions.filter((r) => r.role !== 'bootloader-digest');
    await refused(secured, p, /E_PLAN_NO_BOOT/, /would not boot/);
  });
});
