import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { modules } from '../../src/core/boards/catalog';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot } from '../../src/core/boot/predict';
import { explainBootLog } from '../../src/core/boot/boot-log';
import { checkPlan } from '../../src/core/flash/checks';
import { planFromPairs } from '../../src/core/flash/plan';
import { overlayFlash, planBootPredictor } from '../../src/core/boot/predict-plan';
import { runFlashSession } from '../../src/core/flash/session';
import { KeyStore } from '../../src/core/keystore/key-store';
import { flash as flashWorkflow, scriptedUi, withBoard } from '../../src/core';
import { field, withField } from '../../src/core/efuse/fields';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { buildImage } from '../../scripts/make-fixture-firmware';
import { flashMd5, KEYS, tmpDir, virtualBoard } from './flash-harness';

const FX = 'test/fixtures/firmware/pycom-micropython-sigfox/esp32';


/** The fixture's prepared `_enc` outputs decrypted to plaintext with the CLI, as in issue 12's reproduction A. */
async function decryptFixture(): Promise<{ digest: string; part4: string; part8: string; app: string }> {
  const dir = tmpDir('selfprov-');
  const files = { digest: ['0x0', 'bootloader-reflash-digest.bin_enc'], part4: ['0x8000', 'partitions_4MB.bin_enc'], part8: ['0x8000', 'partitions_8MB.bin_enc'], app: ['0x10000', 'app.bin_enc'] } as const;
  const out: Record<string, string> = {};
  for (const [name, [addr, file]] of Object.entries(files)) {
    out[name] = path.join(dir, `${name}.bin`);
    const r = await cli(['decrypt-flash-data', '--keyfile', `${FX}/fixture-keys/flash_encryption_key.bin`, '--address', addr, '--output', out[name]!, `${FX}/prepared/${file}`]);
    assert.equal(r.code, 0, r.err);
  }
  return out as { digest: string; part4: string; part8: string; app: string };
}

function emptyStore(): KeyStore {
  return new KeyStore(path.join(tmpDir('ks-empty-'), 'secure'));
}

/** Writes the plan's bytes straight into the virtual flash: a rehearsal with the product's checks bypassed. */
function forceWrite(dev: VirtualEsp32, pairs: ReadonlyArray<[number, string]>): void {
  for (const [a, f] of pairs) {
    const data = new Uint8Array(fs.readFileSync(f));
    dev.flash.eraseRange(a, Math.ceil(data.length / 0x1000) * 0x1000);
    dev.flash.program(a, data);
  }
}

/** A raw flash reader holding ADDR FILE pairs over erased flash. */
function overlay(...pairs: Array<number | string>): (o: number, n: number) => Uint8Array {
  const regions: Array<{ address: number; file: string }> = [];
  for (let i = 0; i < pairs.length; i += 2) regions.push({ address: pairs[i] as number, file: pairs[i + 1] as string });
  return overlayFlash(planFromPairs(regions), undefined);
}

describe('issue 12 A: a secure bootloader on a board with no keys (first-boot self-provisioning)', function () {
  this.timeout(120000);
  let files: Awaited<ReturnType<typeof decryptFixture>>;
  before(async () => {
    files = await decryptFixture();
  });

  for (const m of modules()) {
    it(`${m.id} (${m.title}): flash --dry-run and flash refuse the plaintext digest set, nothing written or burned; predict-boot says it must not boot`, async () => {
      const dev = new VirtualEsp32({ profile: m.id, seed: `selfprov-${m.id}`, bootPredictor: bootPredictorForVirtual });
      const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
      const port = `socket://127.0.0.1:${server.port}`;
      try {
        const table = m.flashSize >= 8 * 0x100000 ? files.part8 : files.part4;
        const pairs: Array<[number, string]> = [[0x0, files.digest], [0x8000, table], [0x10000, files.app]];
        const argv = pairs.flatMap(([a, f]) => [`0x${a.toString(16)}`, f]);
        const flashBefore = flashMd5(dev);
        const efuseBefore = JSON.stringify(dev.efuse.rawWords());
        const ks = emptyStore();
        for (const dry of [true, false]) {
          const r = await cli(['flash', '--port', port, '--key-store', ks.dir, ...(dry ? ['--dry-run'] : []), ...argv]);
          assert.equal(r.code, 2, r.out + r.err);
          assert.doesNotMatch(r.out, /every check passed/);
          assert.match(r.err, /digest\.bin at 0x0 \(secure boot digest image, \d+ bytes\)/);
          assert.match(r.err, /BLOCK2 \(secure boot key\) and BLOCK1 \(flash-encryption key\) are empty on this board/);
          assert.match(r.err, /generate those keys itself/);
          assert.match(r.err, /`pycom-secure efuse burn-keys`/);
          assert.match(r.err, /nothing was written/);
          assert.equal(flashMd5(dev), flashBefore, 'flash unchanged');
          assert.equal(JSON.stringify(dev.efuse.rawWords()), efuseBefore, 'eFuses unchanged');
        }
        // The same set forced onto the board: predict-boot on the connected board calls it out (it said "WILL BOOT").
        forceWrite(dev, pairs);
        const p = await cli(['predict-boot', '--port', port, '--key-store', ks.dir]);
        assert.equal(p.code, 1, p.out + p.err);
        assert.match(p.out, /WOULD BOOT, BUT MUST NOT/);
        assert.match(p.out, /generate its own secure boot key \(BLOCK2\) and flash-encryption key \(BLOCK1\)/);
      } finally {
        await server.close();
      }
    });
  }

  it("the editor's Flash body (the flash workflow, with the editor's in-window boot log) refuses the same set, dry run or not", async () => {
    const dev = new VirtualEsp32({ profile: 'SIPY', seed: 'selfprov-workflow', bootPredictor: bootPredictorForVirtual });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const before = flashMd5(dev);
      const efuse = JSON.stringify(dev.efuse.rawWords());
      const plan = () => planFromPairs([{ address: 0, file: files.digest }, { address: 0x8000, file: files.part4 }, { address: 0x10000, file: files.app }]);
      let bootLogAsked = false;
      for (const dryRun of [true, false]) {
        const err = await withBoard({ port: `socket://127.0.0.1:${server.port}`, reset: 'auto', baud: 115200 }, scriptedUi(), (b) =>
          flashWorkflow(b, { store: emptyStore(), plan, dryRun, bootLog: async () => {
            bootLogAsked = true;
            return '';
          } }, scriptedUi())).catch((e: Error) => e);
        assert.ok(err instanceof Error);
        assert.equal((err as Error & { code?: string }).code, 'E_PLAN_SELF_PROVISION');
        assert.match(err.message, /digest\.bin at 0x0 .* is a secure bootloader, and BLOCK2 \(secure boot key\) and BLOCK1 \(flash-encryption key\) are empty/);
      }
      assert.equal(bootLogAsked, false);
      assert.equal(flashMd5(dev), before);
      assert.equal(JSON.stringify(dev.efuse.rawWords()), efuse);
    } finally {
      await server.close();
    }
  });

  it('the planned prediction agrees with the connected one: the flash check refuses the same set by its boot prediction too', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'selfprov-plan' });
    const plan = planFromPairs([{ address: 0, file: files.digest }, { address: 0x8000, file: files.part8 }, { address: 0x10000, file: files.app }]);
    const predict = planBootPredictor({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), flashSize: dev.flash.size });
    // Without the key-block facts the static check is skipped: the boot prediction still refuses.
    const err = await checkPlan(plan, { chip: { flashEncryption: false, secureBoot: false, flashCryptConf: 0xf }, predictBoot: predict }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.match(err.message, /After this plan the device would not boot: The bootloader will generate its own secure boot key \(BLOCK2\) and flash-encryption key \(BLOCK1\)/);
  });

  it('a bootloader at 0x1000 whose strings say "Checking secure boot..." is refused on a fresh board; a plain one is not', async () => {
    const secure = buildImage([{ loadAddress: 0x3fff0000, data: Buffer.from('boot: Checking secure boot... Checking flash encryption...\0') }], { entry: 0x40080000 });
    const plain = buildImage([{ loadAddress: 0x3fff0000, data: Buffer.from('plain bootloader\0') }], { entry: 0x40080000 });
    const dir = tmpDir('selfprov-bl-');
    fs.writeFileSync(path.join(dir, 'secure-bl.bin'), secure);
    fs.writeFileSync(path.join(dir, 'plain-bl.bin'), plain);
    const b = await virtualBoard('GPY', { seed: 'selfprov-bl' });
    try {
      const before = flashMd5(b.dev);
      const store = emptyStore();
      const refused = await runFlashSession({ io: b.io, info: b.info, plan: planFromPairs([{ address: 0x1000, file: path.join(dir, 'secure-bl.bin') }]), store }).catch((e: Error) => e);
      assert.ok(refused instanceof Error);
      assert.match(refused.message, /secure-bl\.bin at 0x1000 \(bootloader image, \d+ bytes\).*BLOCK2 \(secure boot key\) and BLOCK1 \(flash-encryption key\) are empty/);
      assert.equal(flashMd5(b.dev), before);
      const ok = await runFlashSession({ io: b.io, info: b.info, plan: planFromPairs([{ address: 0x1000, file: path.join(dir, 'plain-bl.bin') }]), store, dryRun: true });
      assert.deepEqual(ok.results, []);
    } finally {
      b.close();
    }
  });

  it('a board with secure boot already on (BLOCK2 burned and protected, ABS_DONE_0) but BLOCK1 empty: refused naming BLOCK1 only', async () => {
    let words = new VirtualEsp32({ profile: 'GPY', seed: 'selfprov-sbonly' }).efuse.rawWords();
    words[2] = keyFileToBlockWords(KEYS.secureBootKey, { reverse: true, coding: 'none' });
    words = withField(words, field('ABS_DONE_0'), 1);
    words = withField(words, field('RD_DIS'), 0b10);
    words = withField(words, field('WR_DIS'), 1 << 8);
    // The connected prediction says the same for this board: only the flash-encryption key would be generated.
    const v = predictBoot({ efuse: bootEfusesFromRaw(words, 1), readFlash: overlay(0x0, files.digest, 0x8000, files.part8, 0x10000, files.app), flashSize: 0x800000 });
    assert.equal(v.outcome, 'first-boot-provisioning', v.reason);
    assert.deepEqual(v.firstBoot, { secureBootKey: false, flashEncryptionKey: true, appStarts: true });
    const plan = planFromPairs([{ address: 0, file: files.digest }]);
    const err = await checkPlan(plan, { chip: { flashEncryption: false, secureBoot: true, flashCryptConf: 0xf, emptyKeyBlocks: { blk1: true, blk2: false } } }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.match(err.message, /and BLOCK1 \(flash-encryption key\) is empty on this board/);
    assert.doesNotMatch(err.message, /BLOCK2/);
    assert.match(err.message, /only 3 plaintext re-flashes would remain/);
    // With both keys burned there is nothing to generate: no self-provisioning refusal.
    await checkPlan(planFromPairs([{ address: 0x8000, file: files.part8 }]), { chip: { flashEncryption: false, secureBoot: false, emptyKeyBlocks: { blk1: false, blk2: false } } });
  });

  it('forced onto a fresh virtual board, the first boot burns keys nobody has, read-protected, and encrypts the flash in place', () => {
    const dev = new VirtualEsp32({ profile: 'LOPY4', seed: 'selfprov-forced', bootPredictor: bootPredictorForVirtual });
    forceWrite(dev, [[0x0, files.digest], [0x8000, files.part8], [0x10000, files.app]]);
    const plainBootloader = dev.flash.read(0x1000, 0x1000);
    let text = '';
    const off = dev.onText((t) => (text += t));
    dev.reset('normal');
    off();
    // The keys are in the physical bits, and software reads zeros: nobody will ever know them.
    assert.notEqual(dev.efuse.rawField('BLOCK1'), 0n);
    assert.notEqual(dev.efuse.rawField('BLOCK2'), 0n);
    assert.equal(dev.efuse.visibleField('BLOCK1'), 0n);
    assert.equal(dev.efuse.visibleField('BLOCK2'), 0n);
    assert.equal(dev.efuse.rawField('RD_DIS') & 0b11n, 0b11n);
    assert.equal(dev.efuse.rawField('WR_DIS') & ((1n << 7n) | (1n << 8n)), (1n << 7n) | (1n << 8n));
    assert.equal(dev.efuse.rawField('FLASH_CRYPT_CNT'), 1n);
    assert.equal(dev.efuse.rawField('FLASH_CRYPT_CONFIG'), 0xfn);
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
    assert.equal(dev.efuse.rawField('DISABLE_DL_DECRYPT'), 1n);
    // Encrypted in place: the bootloader is ciphertext now, and the board boots through the new key.
    assert.notDeepEqual(dev.flash.read(0x1000, 0x1000), plainBootloader);
    const after = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size });
    assert.equal(after.outcome, 'app-running', after.reason);
    // The log: the provisioning sequence, the software reset, and the second boot.
    assert.match(text, /secure_boot: Generating new secure boot key\.\.\.\r\n/);
    assert.match(text, /flash_encrypt: Generating new flash encryption key\.\.\.\r\n/);
    assert.match(text, /Encrypting partition \d+ at offset 0x10000\.\.\./);
    assert.match(text, /Resetting with flash encryption enabled\.\.\.\r\n[^]*rst:0x3 \(SW_RESET\)[^]*Loaded app from partition at offset 0x10000/);
    // A second reset provisions nothing more.
    const words = JSON.stringify(dev.efuse.rawWords());
    dev.reset('normal');
    assert.equal(JSON.stringify(dev.efuse.rawWords()), words);
    // Same seed, same board: the same keys (rehearsals repeat); another seed: other keys.
    const again = new VirtualEsp32({ profile: 'LOPY4', seed: 'selfprov-forced', bootPredictor: bootPredictorForVirtual });
    forceWrite(again, [[0x0, files.digest], [0x8000, files.part8], [0x10000, files.app]]);
    again.reset('normal');
    assert.equal(again.efuse.rawField('BLOCK1'), dev.efuse.rawField('BLOCK1'));
  });

  it('monitor flags the "Generating new ... key" lines as critical and does not say the board booted', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'selfprov-monitor', bootPredictor: bootPredictorForVirtual });
    forceWrite(dev, [[0x0, files.digest], [0x8000, files.part8], [0x10000, files.app]]);
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const r = await cli(['monitor', '--port', `socket://127.0.0.1:${server.port}`, '--seconds', '1']);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.out, /✗ CRITICAL "Generating new secure boot key\.\.\.": the bootloader generated its own secure boot key/);
      assert.match(r.out, /✗ CRITICAL "Generating new flash encryption key\.\.\.": the bootloader generated its own flash-encryption key/);
      assert.match(r.out, /The board burned keys of its own on this boot/);
      assert.doesNotMatch(r.out, /The board booted/);
      assert.notEqual(dev.efuse.rawField('BLOCK2'), 0n);
    } finally {
      await server.close();
    }
  });

  it('the post-flash boot log flags the lines: an app flashed onto a board that holds the secure set but never booted', async () => {
    const dev = new VirtualEsp32({ profile: 'FIPY', seed: 'selfprov-postflash', bootPredictor: bootPredictorForVirtual });
    forceWrite(dev, [[0x0, files.digest], [0x8000, files.part8]]);
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const r = await cli(['flash', '--port', `socket://127.0.0.1:${server.port}`, '--key-store', emptyStore().dir, '--boot-log-ms', '1000', '0x10000', files.app]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.out, /✗ CRITICAL "Generating new flash encryption key\.\.\.": .*only 3 plaintext re-flashes remain \(this cannot be undone/);
      assert.match(r.out, /The board burned keys of its own on this boot/);
    } finally {
      await server.close();
    }
  });

  it('the boot log catalogue: a log that also shows MicroPython running is still a failure-class verdict', () => {
    const ex = explainBootLog('I (0) secure_boot: Generating new secure boot key...\r\nPycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n');
    assert.equal(ex.verdict, 'failed');
    assert.deepEqual(ex.findings.map((f) => [f.entry.id, f.entry.severity]), [['sb-key-generated', 'critical'], ['micropython', 'success']]);
    assert.match(ex.summary, /^The board burned keys of its own on this boot: "Generating new secure boot key\.\.\." means .*can never be replaced; .*`pycom-secure efuse burn-keys`\.$/);
  });
});
