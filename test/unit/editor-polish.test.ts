import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import { buildFirmware, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';

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
