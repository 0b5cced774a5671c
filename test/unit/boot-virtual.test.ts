import { strict as assert } from 'node:assert';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { VirtualEsp32, type VirtualEsp32Options } from '../../src/core/virtual/device';
import { normalBootHeader } from '../../src/core/boot/boot-log';
import type { BootContext } from '../../src/core/virtual/boot-model';

/** Everything `dev` prints on UART0 while `act` runs. */
function printed(dev: VirtualEsp32, act: () => void): string {
  let text = '';
  const off = dev.onText((t) => (text += t));
  try {
    act();
  } finally {
    off();
  }
  return text;
}

describe('boot prediction wired into the virtual device', () => {
  it('a fresh virtual GPy with erased flash prints "flash read err, 1000"', () => {
    const dev = new VirtualEsp32({ profile: 'GPY' });
    const p = bootPredictorForVirtual({ chipRevision: dev.chipRevision, resetReason: 1, efuse: dev.efuse.rawWords(), flash: dev.flash, romHeader: normalBootHeader(dev.chipRevision) });
    assert.match(p.log, dev.chipRevision >= 3 ? /invalid header: 0xffffffff/ : /flash read err, 1000\r\nets_main\.c 371/);
  });

  it('a device created with the boot model prints its prediction after the ROM header on a normal reset', () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'boot-model', bootPredictor: bootPredictorForVirtual });
    const out = printed(dev, () => dev.reset('normal'));
    const header = normalBootHeader(dev.chipRevision);
    assert.ok(out.startsWith(header), out);
    assert.match(out.slice(header.length), dev.chipRevision >= 3 ? /^invalid header: 0xffffffff\r\n/ : /^flash read err, 1000\r\nets_main\.c 371 \r\n$/);
  });

  it('a device created without one prints only the ROM header, even while another device in the process has one', () => {
    const withModel = new VirtualEsp32({ profile: 'GPY', seed: 'with-model', bootPredictor: bootPredictorForVirtual });
    const plain = new VirtualEsp32({ profile: 'GPY', seed: 'plain' });
    assert.equal(printed(plain, () => plain.reset('normal')), normalBootHeader(plain.chipRevision));
    assert.match(printed(withModel, () => withModel.reset('normal')), /flash read err|invalid header/);
  });

  it('two devices in one process each use the predictor they were created with, with their own board as input', () => {
    const seen: Array<{ who: string; ctx: BootContext }> = [];
    const board = (who: string, seed: string): VirtualEsp32Options => ({
      profile: 'GPY',
      seed,
      bootPredictor: (ctx) => {
        seen.push({ who, ctx });
        return { log: `${who} booted\r\n` };
      },
    });
    const a = new VirtualEsp32(board('A', 'two-a'));
    const b = new VirtualEsp32(board('B', 'two-b'));
    const outB = printed(b, () => b.reset('normal', 0xc));
    const outA = printed(a, () => a.reset('normal'));
    assert.equal(outA, `${normalBootHeader(a.chipRevision)}A booted\r\n`);
    assert.equal(outB, `${normalBootHeader(b.chipRevision, 0xc)}B booted\r\n`);
    assert.deepEqual(seen.map((s) => s.who), ['B', 'A']);
    // Each predictor was handed its own board: B's flash, B's reset reason.
    assert.equal(seen[0]!.ctx.flash, b.flash);
    assert.equal(seen[0]!.ctx.resetReason, 0xc);
    assert.equal(seen[1]!.ctx.flash, a.flash);
    assert.equal(seen[1]!.ctx.romHeader, normalBootHeader(a.chipRevision));
    // A reset into download mode never asks the boot model.
    printed(a, () => a.reset('download'));
    assert.equal(seen.length, 2);
  });

  it('the predictor\'s flash writes and eFuse changes are applied to its own device only', () => {
    const a = new VirtualEsp32({
      profile: 'GPY',
      seed: 'writes-a',
      bootPredictor: (ctx) => {
        const efuseAfter = ctx.efuse.map((blk) => [...blk]);
        efuseAfter[0]![2] = (efuseAfter[0]![2]! | 0x1) >>> 0;
        return { log: '', flashWrites: [{ offset: 0x1000, data: Uint8Array.of(0xe9, 0x01), erase: true }], efuseAfter };
      },
    });
    const b = new VirtualEsp32({ profile: 'GPY', seed: 'writes-b' });
    const before = b.efuse.rawWords();
    a.reset('normal');
    b.reset('normal');
    assert.deepEqual([...a.flash.read(0x1000, 3)], [0xe9, 0x01, 0xff]);
    assert.equal(a.efuse.rawWords()[0]![2]! & 0x1, 0x1);
    assert.deepEqual([...b.flash.read(0x1000, 2)], [0xff, 0xff]);
    assert.deepEqual(b.efuse.rawWords(), before);
  });
});
