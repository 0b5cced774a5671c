import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { buildFirmware, rehearse, type FlowContext } from '../../src/extension/flows';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { tmpDir } from './flash-harness';
import { UiState } from '../../src/extension/state';
import { macPrompt, vscodeUi } from '../../src/extension/vscode-ui';

/** Editor fixes from a new-user trial: Build's failure notification, Rehearse and the selected port, prompts. */
describe('editor: Build Secure Firmware says how it ended, failure included', () => {
  const ctx = (code: number | undefined, reason?: string): FlowContext & { refreshed: number } => {
    const c = {
      log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never, refreshed: 0,
      virtuals: { find: () => undefined, list: () => [] } as never, runBuildTask: async () => code,
      lastBuildError: () => reason,
    } as unknown as FlowContext & { refreshed: number };
    c.refreshAll = () => { c.refreshed++; };
    return c;
  };
  beforeEach(() => { user.shown.length = 0; for (const k of Object.keys(settings)) delete settings[k]; });

  it('success: an information notification and the views refreshed', async () => {
    const c = ctx(0);
    assert.equal(await buildFirmware(c), true);
    assert.deepEqual(user.shown, [{ level: 'info', text: 'Pycom: the secure build finished; its outputs are in the Builds view.' }]);
    assert.equal(c.refreshed, 1);
  });

  it('make failed: an error notification that says so and where to look (not only the terminal)', async () => {
    const c = ctx(2);
    assert.equal(await buildFirmware(c), false);
    assert.deepEqual(user.shown, [{ level: 'error', text: 'Pycom: the secure build failed (make exited with 2); its output is in the build task\'s terminal, and compiler errors are in the Problems view.' }]);
    assert.equal(c.refreshed, 1);
  });

  it('refused before make ran: the error notification gives the task\'s reason', async () => {
    const c = ctx(1, 'Set pycom.board to the module you build for (WiPy, GPy).');
    assert.equal(await buildFirmware(c), false);
    assert.equal(user.shown.length, 1);
    assert.equal(user.shown[0]!.level, 'error');
    assert.equal(user.shown[0]!.text, 'Pycom: the secure build failed: Set pycom.board to the module you build for (WiPy, GPy) (also in the build task\'s terminal).');
  });
});

describe('editor: the typed-MAC box says what it does', () => {
  it('no "anything else aborts" (a wrong MAC keeps the box open): Escape cancels', async () => {
    const core = 'Type this board\'s MAC (24:0a:c4:00:00:01) to burn 3 step(s); eFuses cannot be unburned, anything else aborts.';
    assert.equal(macPrompt(core), 'Type this board\'s MAC (24:0a:c4:00:00:01) to burn 3 step(s); eFuses cannot be unburned; press Escape to cancel (nothing is burned until the MAC matches).');
    let seen: { prompt?: string; validateInput?: (v: string) => string | undefined } = {};
    user.type = (o) => { seen = o as typeof seen; return undefined; };
    try {
      assert.equal(await vscodeUi(fakeLog() as never).confirmMac!({ mac: '24:0a:c4:00:00:01', virtual: true, title: 't', prompt: core }), undefined);
    } finally {
      user.type = () => undefined;
    }
    assert.doesNotMatch(seen.prompt!, /anything else aborts/);
    assert.match(seen.prompt!, /press Escape to cancel/);
    assert.equal(seen.validateInput!('24:0a:c4:00:00:02'), 'That is not this board\'s MAC; type 24:0a:c4:00:00:01.');
    assert.equal(seen.validateInput!('24:0A:C4:00:00:01'), undefined);
  });
});

describe('editor: Rehearse on Virtual Board keeps the selected port', function () {
  this.timeout(60_000);
  const virtuals = new VirtualBoards();
  after(() => { virtuals.dispose(); user.type = () => undefined; });

  it('the rehearsal runs on its own virtual board; the selected port (status bar, Flash, Burn Keys\' first entry) stays', async () => {
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: path.join(tmpDir('editor-rehearse-'), 'secure'), virtualBoardProfile: 'GPY', baudRate: 115200 });
    const state = new UiState();
    const selected = { path: '/dev/ttyACM7', virtual: false, board: 'GPy' };
    state.update({ port: selected });
    const log = fakeLog();
    const titles: string[] = [];
    // Burn Keys: Development, then Escape at the typed MAC: nothing burned, the rehearsal stops there.
    user.type = (o) => { titles.push(o.title ?? ''); return undefined; };
    user.shown.length = 0;
    const c = { log, state, panel: { show: () => undefined } as never, virtuals, refreshAll: () => undefined, runBuildTask: async () => 0 } as unknown as FlowContext;
    await rehearse(c);
    assert.equal(virtuals.list().length, 1);
    const board = virtuals.list()[0]!;
    assert.deepEqual(state.port, selected);
    assert.equal(titles.length, 1);
    assert.match(titles[0]!, /^Burn Keys on the VIRTUAL board /);
    assert.ok(log.lines.some((l) => l.includes(`rehearsal: on ${board.url}; the selected port stays /dev/ttyACM7`)));
    // The rehearsal board is listed (Select Port can select it), not selected.
    assert.ok(state.ports.some((r) => r.path === board.url && r.virtual));
    assert.ok(user.shown.some((m) => /Burn Keys was cancelled; nothing was burned/.test(m.text)));
  });
});
