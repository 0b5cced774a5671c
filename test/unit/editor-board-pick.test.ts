import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { burnKeys, pickBoard, type FlowContext } from '../../src/extension/flows';
import { UiState, type SelectedPort } from '../../src/extension/state';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { KeyStore } from '../../src/core';

/** Selecting a port is the user's act: a board started from a command's pick is for that command only. */
describe('a virtual board started from a command\'s board pick', function () {
  this.timeout(60_000);
  let dir: string;
  let virtuals: VirtualBoards;
  const selected: SelectedPort = { path: 'socket://127.0.0.1:1', virtual: true, board: 'Virtual board' };
  const ctx = (): FlowContext & { log: ReturnType<typeof fakeLog> } => {
    const state = new UiState();
    state.update({ port: { ...selected } });
    return { log: fakeLog(), state, panel: { show: () => undefined } as never, virtuals, refreshAll: () => undefined, runBuildTask: async () => 0 } as never;
  };
  const startOne = (items: readonly { label: string }[]) => items.find((i) => /Start a virtual/.test(i.label)) ?? items[0];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'board-pick-'));
    const store = new KeyStore(path.join(dir, 'secure'));
    generateMissingKeys(store.dir, false, fs.existsSync);
    virtuals = new VirtualBoards();
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, baudRate: 115200, resetMode: 'auto', virtualBoardProfile: 'GPY' });
    user.shown.length = 0;
    user.asked.length = 0;
    user.picks.length = 0;
    user.type = () => undefined;
  });
  afterEach(() => {
    virtuals.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Burn Keys uses the new board, and the selected port stays as it was after Escape at the MAC', async () => {
    const c = ctx();
    user.pick = startOne;
    assert.equal(await burnKeys(c, undefined), false);
    const started = virtuals.list();
    assert.equal(started.length, 1, 'a board was started');
    assert.deepEqual(c.state.port, selected, 'the selected port is unchanged');
    assert.equal(c.state.chip, undefined, 'the new board\'s chip is not shown under the selected port');
    assert.ok(c.state.efuses?.source.includes(started[0]!.url), 'the plan shown is the new board\'s');
    assert.match(user.picks[0]!.items.find((i) => /Start a virtual/.test(i.label))!.label, /GPY/);
    assert.ok(user.shown.some((m) => m.text === 'Pycom: Burn Keys was cancelled; nothing was burned.'));
  });

  it('Burn Keys burns the new board when its MAC is typed, and still leaves the selected port alone', async () => {
    const c = ctx();
    user.pick = startOne;
    user.type = (o) => /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(o.title ?? '')![1];
    assert.equal(await burnKeys(c, undefined), true);
    assert.equal(virtuals.list()[0]!.dev.efuse.rawField('ABS_DONE_0'), 1n, 'the new board was burned');
    assert.deepEqual(c.state.port, selected);
  });

  it('Escape at the board pick starts nothing and selects nothing', async () => {
    const c = ctx();
    user.pick = () => undefined;
    assert.equal(await pickBoard(c, 'Pycom: Burn Keys: which board?', true), undefined);
    assert.equal(virtuals.list().length, 0);
    assert.deepEqual(c.state.port, selected);
  });

  it('Select Port does select the board it starts (there, selecting is what the user asked for)', async () => {
    const c = ctx();
    user.pick = startOne;
    const p = await pickBoard(c, 'Pycom: Select Port', false, true);
    assert.equal(c.state.port?.path, virtuals.list()[0]!.url);
    assert.deepEqual(c.state.port, p);
  });
});
