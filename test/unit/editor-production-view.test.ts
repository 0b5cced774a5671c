import { strict as assert } from 'node:assert';
import { isHostMessage, parseWebviewMessage, parseWebviewState, productionPercent, type ProductionView, type RecordFormat } from '../../webview/src/protocol';
import { FakeNode, fakeDocument } from './helpers/fake-dom';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderProduction } = require('../../webview/src/production-tab') as {
  renderProduction(root: unknown, v: ProductionView | undefined, on: { stop(): void; exportRecords(f: RecordFormat): void }): void;
};

const MARKUP = '<img src=x onerror="document.title=\'pwned\'">';

function run(phase: ProductionView['phase']): ProductionView {
  return {
    phase, setup: 'Build /b · key store /k · per-device keys (one per MAC) · development',
    rows: [
      { port: 'socket://127.0.0.1:1', board: 'GPy (virtual)', virtual: true, mac: '24:0a:c4:00:00:01', state: 'finished', progress: 1, message: 'done', outcome: 'finished', flashKey: '0123456789abcdef' },
      { port: 'socket://127.0.0.1:2', board: 'GPy (virtual)', virtual: true, mac: '24:0a:c4:00:00:02', state: 'flashing', progress: 0.5, message: `flashing ${MARKUP}` },
      { port: `/dev/ttyACM${MARKUP}`, board: 'GPy', virtual: false, state: 'connecting', progress: 0, message: 'Reading.' },
    ],
  };
}

describe('the Production tab', () => {
  fakeDocument();

  it('shows a row per board (board, MAC, state, progress, result), the overall bar, Stop while running and the exports', () => {
    const root = new FakeNode('div');
    const clicks: string[] = [];
    renderProduction(root, run('running'), { stop: () => clicks.push('stop'), exportRecords: (f) => clicks.push(`export ${f}`) });
    const rows = root.allByTestId('production-row');
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r.byTestId('production-mac')!.textContent), ['24:0a:c4:00:00:01', '24:0a:c4:00:00:02', '—']);
    assert.deepEqual(rows.map((r) => r.byTestId('production-state')!.textContent), ['finished', 'flashing', 'connecting']);
    assert.match(rows[0]!.textContent, /^GPy \(virtual\)/);
    assert.equal(rows[1]!.all('vscode-progress-bar')[0]!.attrs.get('value'), '50');
    // Device and file text is text: no element comes out of it.
    assert.equal(root.all('img').length, 0);
    assert.match(rows[1]!.byTestId('production-result')!.textContent, /<img src=x/);
    assert.match(root.byTestId('production-overall')!.textContent, /1 of 3 board\(s\) done \(running\)50%/);
    root.byTestId('production-stop')!.click();
    root.byTestId('production-export-json')!.click();
    root.byTestId('production-export-csv')!.click();
    assert.deepEqual(clicks, ['stop', 'export json', 'export csv']);
  });

  it('has no Stop once the run is done, and shows how it ended', () => {
    const root = new FakeNode('div');
    renderProduction(root, { ...run('done'), result: { ok: false, text: '1 of 2 approved board(s) finished.' } }, { stop: () => undefined, exportRecords: () => undefined });
    assert.equal(root.byTestId('production-stop'), undefined);
    assert.equal(root.byTestId('production-summary')!.textContent, '1 of 2 approved board(s) finished.');
    const empty = new FakeNode('div');
    renderProduction(empty, undefined, { stop: () => undefined, exportRecords: () => undefined });
    assert.match(empty.textContent, /Run "Pycom: Provision Boards"/);
  });

  it('overall progress: the mean over the boards, a board that is done counting as complete', () => {
    assert.equal(productionPercent(run('running')), 50);
    assert.equal(productionPercent({ ...run('running'), rows: [] }), 0);
    assert.equal(productionPercent({ ...run('done'), rows: [] }), 100);
    const failed = run('done');
    failed.rows = failed.rows.map((r) => ({ ...r, outcome: 'failed' as const, progress: 0.3 }));
    assert.equal(productionPercent(failed), 100);
  });

  it('Stop and Export are validated like every webview message', () => {
    for (const m of [{ type: 'stopProduction' }, { type: 'exportRecords', format: 'json' }, { type: 'exportRecords', format: 'csv' }]) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.message, m);
    }
    const bad: [unknown, RegExp][] = [
      [{ type: 'exportRecords' }, /unknown format: undefined \(json or csv\)/],
      [{ type: 'exportRecords', format: 'xml' }, /unknown format: "xml"/],
      [{ type: 'exportRecords', format: 'csv', path: '/etc/passwd' }, /unexpected field\(s\): path/],
      [{ type: 'stopProduction', board: 'all' }, /unexpected field\(s\): board/],
    ];
    for (const [raw, err] of bad) {
      const r = parseWebviewMessage(raw);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, err);
    }
  });

  it('the host message and the saved state are checked before use', () => {
    assert.ok(isHostMessage({ type: 'production', view: run('running') }));
    assert.ok(!isHostMessage({ type: 'production', view: { ...run('running'), rows: [{ port: 1 }] } }));
    assert.ok(!isHostMessage({ type: 'production', view: { ...run('running'), rows: [{ ...run('running').rows[0], outcome: 'exploded' }] } }));
    assert.deepEqual(parseWebviewState({ tab: 'production', production: run('done') }), { state: { tab: 'production', production: run('done') } });
    const r = parseWebviewState({ tab: 'production', production: { rows: 'no' } });
    assert.deepEqual(r.state, { tab: 'production' });
    assert.match(r.error!, /a malformed production run \(dropped\)/);
  });
});
