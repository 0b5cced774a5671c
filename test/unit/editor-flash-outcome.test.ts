import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import { flashFirmware, type FlowContext } from '../../src/extension/flows';
import { flashOutcome, flashRunTitle } from '../../src/extension/flows/flash';
import { UiState } from '../../src/extension/state';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { KeyStore } from '../../src/core/keystore/key-store';
import { readBoardRecords } from '../../src/core/audit/board-record';
import { restoredFlash, type FlashProgressView, type FlashRegionView } from '../../webview/src/protocol';
import { KEYS, fixtureFirmwareProject, flashMd5 } from './flash-harness';
import { FakeNode, fakeDocument } from './helpers/fake-dom';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderFlash } = require('../../webview/src/flash-tab') as { renderFlash(root: unknown, p: FlashProgressView | undefined, onCancel: () => void): void };

const macOf = (dev: VirtualEsp32): string => Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');

/** A virtual GPy with its keys burned (from "another workstation": the store asks once), whose boot prints `bootLog`. */
async function burnedBoard(seed: string, bootLog?: string): Promise<{ dev: VirtualEsp32; server: SimServer; url: string }> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed, ...(bootLog ? { bootPredictor: () => ({ log: bootLog }) } : {}) });
  const access = directAccess(dev.efuse);
  const mac = macOf(dev);
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
  await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey });
  const server = await startSimServer(dev, { port: 0 });
  return { dev, server, url: `socket://127.0.0.1:${server.port}` };
}

const PREVIOUS: FlashProgressView = {
  board: 'Virtual board 24:0a:c4:99:99:99 on socket://127.0.0.1:1', mac: '24:0a:c4:99:99:99', startedAt: '2020-01-01T10:00:00.000Z', state: 'done',
  regions: [{ name: 'app.bin (app)', address: 0x10000, size: 100, written: 100 }], log: ['an earlier run'], bytesPerSecond: 2048, result: { ok: true, text: 'earlier run booted' },
};

describe('editor: the flash outcome and the Flash Progress tab', function () {
  this.timeout(60_000);
  fakeDocument();
  const boards: SimServer[] = [];
  let store: KeyStore;

  before(() => {
    let project: string;
    ({ project, store } = fixtureFirmwareProject('editor-outcome-'));
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, firmwarePath: project, board: 'GPY', baudRate: 115200, resetMode: 'auto' });
  });
  beforeEach(() => { user.shown.length = 0; });
  after(async () => {
    for (const b of boards) await b.close();
    user.button = () => undefined;
    user.cancelProgress = false;
  });

  /** A flow context whose UI state already shows an earlier run (another board, done); `seen` collects every flash view pushed. */
  const ctx = (seen: FlashProgressView[]): FlowContext => {
    const state = new UiState();
    state.update({ flash: PREVIOUS });
    state.onDidChange(() => { if (state.flash && state.flash !== seen[seen.length - 1]) seen.push(state.flash); });
    return { log: fakeLog(), state, panel: { show: () => undefined } as never, virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0 } as never;
  };

  it('a board whose boot log says it did not boot: a warning that leads with it, the tab says "did not boot", not "done"', async () => {
    // A failure the key evidence has nothing to do with (a crash in the app), after the store was vouched for.
    const b = await burnedBoard('editor-outcome-noboot', 'I (421) boot: Loaded app from partition at offset 0x10000\nGuru Meditation Error: Core  0 panic\'ed (LoadProhibited). Exception was unhandled.\n');
    boards.push(b.server);
    user.button = (_t, buttons) => buttons[0];
    const seen: FlashProgressView[] = [];
    const c = ctx(seen);
    assert.equal(await flashFirmware(c, { path: b.url, virtual: true, board: 'Virtual board' }), false);
    const shown = user.shown.filter((m) => m.text.startsWith('Pycom:') && !/key store/.test(m.text));
    assert.equal(shown.length, 1);
    assert.equal(shown[0]!.level, 'warning');
    assert.match(shown[0]!.text, /^Pycom: The board did not boot: "Guru Meditation Error/);
    assert.match(shown[0]!.text, /the boot prediction before writing expected it to boot/);
    assert.doesNotMatch(shown[0]!.text, /Pycom: flashed/);
    const end = c.state.flash!;
    assert.equal(end.state, 'not-booted');
    assert.equal(end.result?.ok, false);
    assert.match(end.result!.text, /^The board did not boot/);
    assert.equal(end.board, `Virtual board ${macOf(b.dev)} on ${b.url}`);
    assert.equal(end.etaSeconds, undefined);
    const root = new FakeNode('div');
    renderFlash(root, end, () => undefined);
    assert.match(root.byTestId('flash-state')!.textContent, /: written and verified, but the board did not boot/);
    assert.doesNotMatch(root.byTestId('flash-state')!.textContent, /done/);
  });

  it('a vouched store the boot refutes ("flash read err, 1000" after the bootloader was written): the warning says the key is not the board\'s, in the editor\'s words', async () => {
    const b = await burnedBoard('editor-outcome-refuted', 'flash read err, 1000\nets_main.c 371 \n');
    boards.push(b.server);
    user.button = (_t, buttons) => buttons[0];
    const c = ctx([]);
    assert.equal(await flashFirmware(c, { path: b.url, virtual: true, board: 'Virtual board' }), false);
    const shown = user.shown.filter((m) => m.text.startsWith('Pycom: The board did not boot'));
    assert.equal(shown.length, 1);
    assert.equal(shown[0]!.level, 'warning');
    assert.match(shown[0]!.text, /BLOCK1 does not hold the flash-encryption key [0-9a-f]{16} you vouched for/);
    assert.match(shown[0]!.text, /\(set pycom\.keyStorePath\)/);
    assert.doesNotMatch(shown[0]!.text, /--key-store/);
    assert.equal(c.state.flash!.state, 'not-booted');
    // The editor's run is recorded as the CLI's is, with the refutation.
    const rec = readBoardRecords(store.auditPath, macOf(b.dev)).pop();
    assert.equal(rec?.operation, 'flash');
    assert.equal(rec?.result, 'failed');
    assert.equal(rec?.keyEvidence, 'trust-key-store');
    assert.equal(rec?.keyRefuted?.block, 'BLOCK1');
  });

  it('a flash starts by showing this run (its board, checking), not the previous run; refused before writing, it shows this run\'s refusal', async () => {
    const b = await burnedBoard('editor-outcome-refused');
    boards.push(b.server);
    user.button = () => undefined; // Cancel at the key-store question: refused, nothing written.
    const before = flashMd5(b.dev);
    const seen: FlashProgressView[] = [];
    const c = ctx(seen);
    await assert.rejects(flashFirmware(c, { path: b.url, virtual: true, board: 'Virtual board' }), /nothing was written|answer Yes/);
    assert.equal(flashMd5(b.dev), before);
    assert.equal(seen[0]!.state, 'checking');
    assert.equal(seen[0]!.board, `Virtual board on ${b.url}`);
    assert.deepEqual(seen[0]!.regions, []);
    assert.deepEqual(seen[0]!.log, []);
    assert.equal(seen[0]!.result, undefined);
    const end = c.state.flash!;
    assert.equal(end.state, 'failed');
    assert.equal(end.mac, macOf(b.dev));
    assert.match(end.result!.text, /answer Yes to the question about the key store/);
    assert.ok(end.regions.every((r: FlashRegionView) => r.written === 0));
    assert.ok(!end.log.includes('an earlier run'));
    const root = new FakeNode('div');
    renderFlash(root, end, () => undefined);
    assert.match(root.byTestId('flash-overall')!.textContent, /Overall \(0%\)/);
    assert.doesNotMatch(root.textContent, /earlier run|100%/);
  });

  it('a cancelled flash shows "cancelled" with no ETA', async () => {
    const b = await burnedBoard('editor-outcome-cancel');
    boards.push(b.server);
    user.button = (_t, buttons) => buttons[0];
    user.cancelProgress = true;
    const seen: FlashProgressView[] = [];
    const c = ctx(seen);
    try {
      await assert.rejects(flashFirmware(c, { path: b.url, virtual: true, board: 'Virtual board' }), /cancelled/);
    } finally {
      user.cancelProgress = false;
    }
    const end = c.state.flash!;
    assert.equal(end.state, 'cancelled');
    assert.equal(end.etaSeconds, undefined);
    const root = new FakeNode('div');
    // Even a view that still carries a time left shows none once it is not running.
    renderFlash(root, { ...end, etaSeconds: 1, bytesPerSecond: 1024 }, () => undefined);
    assert.match(root.byTestId('flash-rate')!.textContent, /Throughput: 1\.0 KiB\/s/);
    assert.doesNotMatch(root.textContent, /ETA/);
    assert.equal(root.all('vscode-button').length, 0);
  });
});

describe('the Flash Progress tab after a window reload', () => {
  fakeDocument();

  it('a restored run is shown as a past run with its board\'s MAC and start time, never as the current one', () => {
    const root = new FakeNode('div');
    renderFlash(root, restoredFlash(PREVIOUS), () => undefined);
    assert.match(root.byTestId('flash-past')!.textContent, /^Past run started 2020-01-01 10:00:00 UTC, from before the window was reloaded: not running now/);
    assert.match(root.byTestId('flash-state')!.textContent, /24:0a:c4:99:99:99 on socket:\/\/127\.0\.0\.1:1: done$/);
  });

  it('a run restored while it was writing shows as cancelled, with no ETA and no Cancel button', () => {
    const running: FlashProgressView = { ...PREVIOUS, state: 'running', etaSeconds: 1, result: undefined } as FlashProgressView;
    const r = restoredFlash(running);
    assert.equal(r.state, 'cancelled');
    assert.equal(r.restored, true);
    assert.equal(r.etaSeconds, undefined);
    const root = new FakeNode('div');
    renderFlash(root, r, () => undefined);
    assert.doesNotMatch(root.textContent, /ETA/);
    assert.equal(root.all('vscode-button').length, 0);
  });

  it('a run the extension sends now is not marked past', () => {
    const root = new FakeNode('div');
    renderFlash(root, PREVIOUS, () => undefined);
    assert.equal(root.byTestId('flash-past'), undefined);
  });
});

describe('flash run titles and outcomes (pure)', () => {
  it('two virtual boards never have the same title: the MAC and the port are in it', () => {
    assert.equal(flashRunTitle({ path: 'socket://127.0.0.1:5555', virtual: true, board: 'Virtual board' }, '24:0a:c4:00:00:01'), 'Virtual board 24:0a:c4:00:00:01 on socket://127.0.0.1:5555');
    assert.equal(flashRunTitle({ path: 'socket://127.0.0.1:5556', virtual: true, board: 'GPy' }), 'GPy (virtual) on socket://127.0.0.1:5556');
    assert.equal(flashRunTitle({ path: '/dev/ttyACM0', virtual: false }, '24:0a:c4:00:00:02'), '/dev/ttyACM0 24:0a:c4:00:00:02');
  });

  it('a booted board: information, prediction and verdict; done', () => {
    const o = flashOutcome('GPy', true, { verdict: 'booted', summary: 'The board booted: MicroPython v1.20 (the firmware runs).' });
    assert.deepEqual([o.ok, o.state, o.notification.level], [true, 'done', 'info']);
    assert.match(o.notification.text, /^Pycom: flashed GPy\. Boot prediction: the board boots .* The board booted/);
  });

  it('a board that burned keys of its own on boot (also a failed verdict) is a warning too', () => {
    const o = flashOutcome('GPy', false, { verdict: 'failed', summary: 'The board burned keys of its own on this boot: BLOCK1; burn keys first.' });
    assert.deepEqual([o.ok, o.state, o.notification.level], [false, 'not-booted', 'warning']);
    assert.match(o.text, /^The board did not boot normally: The board burned keys of its own/);
    assert.match(o.text, /no boot prediction passed before writing \(see the notes above\)\.$/);
  });
});
