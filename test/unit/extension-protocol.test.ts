import * as assert from 'node:assert/strict';
import { parseWebviewMessage, isHostMessage, overallPercent, type FlashProgressView } from '../../webview/src/protocol';
import { panelCsp, panelHtml } from '../../src/extension/panel-html';

describe('webview message protocol', () => {
  it('accepts every well-formed webview message', () => {
    for (const m of [{ type: 'ready' }, { type: 'refreshEfuses' }, { type: 'cancelFlash' }, { type: 'tabChanged', tab: 'flash' }]) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.message, m);
    }
  });

  it('rejects malformed messages with a clear error', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[], /not an object/],
      [{}, /no string "type"/],
      [{ type: 'burnEverything' }, /unknown webview message type/],
      [{ type: 'ready', extra: 1 }, /unexpected field\(s\): extra/],
      [{ type: 'tabChanged', tab: 'keys' }, /unknown tab/],
      [{ type: 'tabChanged' }, /unknown tab/],
    ];
    for (const [raw, err] of cases) {
      const r = parseWebviewMessage(raw);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, err);
    }
  });

  it('checks host messages before the webview renders them', () => {
    assert.ok(isHostMessage({ type: 'showTab', tab: 'efuses' }));
    assert.ok(!isHostMessage({ type: 'showTab', tab: 'x' }));
    assert.ok(!isHostMessage({ type: 'efuses', snapshot: { fields: 'no' } }));
  });

  it('computes overall flash progress from the regions', () => {
    const p: FlashProgressView = { board: 'GPy', state: 'running', log: [], regions: [{ name: 'a', address: 0, size: 100, written: 100 }, { name: 'b', address: 0x1000, size: 300, written: 100 }] };
    assert.equal(overallPercent(p), 50);
    assert.equal(overallPercent({ ...p, regions: [], state: 'done' }), 100);
  });
});

describe('webview panel HTML', () => {
  it('has a strict CSP: nothing remote, scripts only with the nonce', () => {
    const csp = panelCsp('https://file+.vscode-resource.vscode-cdn.net', 'N0nce');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-N0nce'/);
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp));
    const html = panelHtml('vscode-resource://main.js', 'vscode-resource:', 'N0nce');
    assert.ok(!/<script(?![^>]*nonce="N0nce")/.test(html), 'every script carries the nonce');
    assert.ok(!/https?:\/\//.test(html), 'no remote resources');
  });
});

describe('the panel host and untrusted webview messages', () => {
  // Loaded here, not at the top: only these tests need the vscode stand-in.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mock = require('./helpers/vscode-mock') as typeof import('./helpers/vscode-mock');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PycomPanel } = require('../../src/extension/panel') as typeof import('../../src/extension/panel');

  function open() {
    const seen = { messages: [] as unknown[], invalid: [] as string[] };
    const panel = new PycomPanel(mock.Uri.file('/ext') as never, {
      initialMessages: () => [{ type: 'showTab', tab: 'flash' }],
      onMessage: (m) => seen.messages.push(m),
      onInvalidMessage: (e) => seen.invalid.push(e),
      onInvalidState: (e) => seen.invalid.push(e),
    });
    panel.show('efuses');
    return { seen, fake: mock.createdPanels[mock.createdPanels.length - 1]! };
  }

  it('passes valid messages on and answers "ready" with the current state', () => {
    const { seen, fake } = open();
    fake.fromWebview({ type: 'ready' });
    fake.fromWebview({ type: 'cancelFlash' });
    assert.deepEqual(seen.messages, [{ type: 'ready' }, { type: 'cancelFlash' }]);
    assert.deepEqual(fake.posted, [{ type: 'showTab', tab: 'flash' }, { type: 'showTab', tab: 'efuses' }]);
    assert.deepEqual(seen.invalid, []);
  });

  it('drops every malformed message with one clear sentence and changes nothing', () => {
    const { seen, fake } = open();
    const bad: unknown[] = [
      undefined, 42, 'ready', [], {}, { type: 7 }, { type: 'ready', x: 1 }, { type: 'tabChanged', tab: '<img src=x>' },
      { type: 'burnKeys', mac: '24:0a:c4:00:00:01' }, { type: 'cancelFlash', now: true }, { type: 'x'.repeat(10_000) },
      JSON.parse('{"type":"ready","__proto__":{"polluted":true}}'),
    ];
    for (const m of bad) fake.fromWebview(m);
    assert.deepEqual(seen.messages, [], 'no handler ran');
    assert.deepEqual(fake.posted, [], 'nothing was sent back');
    assert.equal(seen.invalid.length, bad.length, 'each bad message is reported once');
    for (const e of seen.invalid) {
      assert.ok(!e.includes('\n') && e.length < 200, `one short sentence: ${e}`);
      assert.match(e, /^(webview message|unknown webview message)/);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
