import './helpers/vscode-mock';
import * as assert from 'node:assert/strict';
import { hardeningChoices, pickHardening } from '../../src/extension/burn-options';
import { HARDENING_FUSES } from '../../src/core/efuse/burn/hardening';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { planSnapshot } from '../../src/extension/sources/efuse-snapshot';
import { VirtualEsp32 } from '../../src/core/virtual/device';

describe('Burn Keys in the editor: development or release', () => {
  it('offers development first (the default) and release with each fuse\'s closes and cost from the core', () => {
    const [dev, rel] = hardeningChoices();
    assert.equal(dev!.label, 'Development (keys + encryption + secure boot)');
    assert.equal(dev!.hardening, false);
    assert.equal(rel!.label, 'Release: also close UART download-mode crypto and JTAG');
    assert.equal(rel!.hardening, true);
    for (const f of HARDENING_FUSES) assert.ok(rel!.detail!.includes(`${f.name} closes: ${f.closes} (cost: ${f.cost})`), f.name);
  });

  it('returns the chosen profile, and undefined (burn nothing) when dismissed', async () => {
    const asked: unknown[] = [];
    const answer = (i: number | undefined) => ({ showQuickPick: (async (items: unknown) => { asked.push(items); return i === undefined ? undefined : (items as unknown[])[i]; }) as never });
    assert.equal(await pickHardening(answer(0), '24:0a:c4:00:00:01'), false);
    assert.equal(await pickHardening(answer(1), '24:0a:c4:00:00:01'), true);
    assert.equal(await pickHardening(answer(undefined), '24:0a:c4:00:00:01'), undefined);
    assert.equal(asked.length, 3);
  });

  it('a release plan shows each hardening fuse on its own line before the MAC is typed; a development plan none', () => {
    const d = new VirtualEsp32({ profile: 'GPY', seed: 'burn-options' });
    const words = d.efuse.rawWords();
    const mac = Array.from(d.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const plan = (hardening: boolean) => planSnapshot(words, 'test', planBurnKeys({ words, decStatus: 0 }, {
      target: { chip: 'ESP32', revision: d.chipRevision, mac }, flashKey: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i), secureBootKey: Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff), hardening, history: [],
    })).plan!;
    const release = plan(true).irreversible;
    for (const f of HARDENING_FUSES) assert.ok(release.some((l) => l.startsWith(`then ${f.name}: ${f.closes}; cost: ${f.cost}`)), f.name);
    assert.ok(!plan(false).irreversible.some((l) => /JTAG_DISABLE/.test(l)));
  });
});
